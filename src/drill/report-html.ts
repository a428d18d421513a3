// The drill report as one self-contained HTML page: no scripts, no external resources. Two charts drawn here as
// inline SVG on one time axis: the timeline (each activity and runbook step as a bar, the fault, detection,
// recovery and verification as markers) and the writer's rate per second (acknowledged up, failed down).
import type { ActivityRecord, DrillReport, SteadyState, TimelineEvent } from './types.ts'

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`

const COLORS: Record<string, string> = { check: '#b9c0cc', prepare: '#8a94a6', fault: '#d64545', detect: '#e8a33d', recovery: '#2f6fdb', observe: '#8a5cd6', rollback: '#3a9a5b', step: '#7fa7ee' }
const MARKERS: Partial<Record<TimelineEvent['kind'], string>> = { fault: '#d64545', detection: '#e8a33d', recovered: '#2e9e5b', verified: '#2f6fdb' }

const W = 960
const LEFT = 280
const RIGHT = 20
const plotW = W - LEFT - RIGHT

function axis(totalMs: number, y: number, height: number): string {
  const totalS = Math.max(1, totalMs / 1000)
  const step = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600].find((s) => totalS / s <= 12) ?? 1200
  const x = (t: number) => LEFT + (t / totalS) * plotW
  const ticks: string[] = []
  for (let t = 0; t <= totalS; t += step) {
    ticks.push(`<line x1="${x(t)}" y1="${y}" x2="${x(t)}" y2="${y + height}" class="grid"/>`)
    ticks.push(`<text x="${x(t)}" y="${y + height + 14}" class="tick" text-anchor="middle">${t} s</text>`)
  }
  return ticks.join('')
}

/** Vertical markers for the fault, detection, recovery and verification; labels close together are stacked. */
function markers(events: TimelineEvent[], xOf: (ms: number) => number, y: number, height: number, labels: boolean): string {
  let lastX = -Infinity
  let level = 0
  return events
    .filter((e) => MARKERS[e.kind] && (e.kind !== 'fault' || e === events.find((x) => x.kind === 'fault')))
    .map((e) => {
      const x = xOf(e.t).toFixed(1)
      level = Number(x) - lastX < 64 ? (level + 1) % 3 : 0
      lastX = Number(x)
      const label = labels ? `<text x="${x}" y="${y - 4 - level * 12}" class="mark" fill="${MARKERS[e.kind]}" text-anchor="middle">${esc(e.kind)}</text>` : ''
      return `<line x1="${x}" y1="${y}" x2="${x}" y2="${y + height}" stroke="${MARKERS[e.kind]}" stroke-width="2" stroke-dasharray="5 3" class="marker marker-${e.kind}"><title>${esc(e.label)} at +${secs(e.t)}</title></line>${label}`
    })
    .join('')
}

export function timelineSvg(r: DrillReport): string {
  const rows: { label: string; start: number; dur: number; color: string; sub: boolean; status: string }[] = []
  const add = (a: ActivityRecord) => {
    if (a.status === 'skipped') return
    rows.push({ label: a.title, start: a.start, dur: a.durationMs, color: COLORS[a.role] ?? '#888', sub: false, status: a.status })
    for (const s of a.steps ?? []) rows.push({ label: s.title, start: s.start, dur: s.durationMs, color: COLORS.step, sub: true, status: s.outcome })
  }
  const check = (title: string, st?: SteadyState) => {
    if (st) rows.push({ label: title, start: Date.parse(st.at) - Date.parse(r.startedAt), dur: st.durationMs, color: st.ok ? COLORS.check : COLORS.fault, sub: false, status: st.ok ? 'holds' : 'does not hold' })
  }
  check('Check the steady state', r.steadyStateBefore)
  r.method.forEach(add)
  check('Check the steady state again', r.steadyStateAfter)
  r.rollbacks.forEach(add)
  check('Check the cluster is as found', r.putBack)
  const total = Math.max(r.durationMs, ...rows.map((x) => x.start + x.dur), 1000)
  const xOf = (ms: number) => LEFT + (ms / total) * plotW
  const rowH = 22
  const top = 44
  const h = top + rows.length * rowH + 30
  const bars = rows
    .map((row, i) => {
      const y = top + i * rowH
      const x = xOf(row.start)
      const w = Math.max(2, xOf(row.start + row.dur) - x)
      const label = row.label.length > 44 ? row.label.slice(0, 43) + '…' : row.label
      const failed = row.status === 'failed'
      return (
        `<text x="${row.sub ? 16 : 4}" y="${y + 15}" class="${row.sub ? 'lbl sub' : 'lbl'}">${esc(label)}</text>` +
        `<rect x="${x.toFixed(1)}" y="${y + (row.sub ? 6 : 3)}" width="${w.toFixed(1)}" height="${row.sub ? 10 : 16}" rx="3" fill="${row.color}" class="bar${failed ? ' failed' : ''}"${failed ? ' stroke="#d64545" stroke-width="2"' : ''}>` +
        `<title>${esc(row.label)}: ${esc(row.status)}, +${secs(row.start)} for ${secs(row.dur)}</title></rect>`
      )
    })
    .join('')
  return `<svg id="timeline-chart" class="chart" viewBox="0 0 ${W} ${h}" width="100%" role="img" aria-label="Timeline of the drill" xmlns="http://www.w3.org/2000/svg">
${axis(total, top, rows.length * rowH)}${bars}${markers(r.timeline, xOf, top, rows.length * rowH, true)}</svg>`
}

export function rateSvg(r: DrillReport): string {
  const rate = r.writes.rate
  const total = Math.max(r.durationMs, ...rate.map((x) => (x.t + 1) * 1000), 1000)
  const xOf = (ms: number) => LEFT + (ms / total) * plotW
  const maxOk = Math.max(1, ...rate.map((x) => x.ok))
  const maxFail = Math.max(1, ...rate.map((x) => x.failed))
  const top = 44
  const upH = 120
  const downH = 40
  const mid = top + upH
  const bw = Math.max(1, plotW / (total / 1000) - 1)
  const bars = rate
    .map((x) => {
      const bx = xOf(x.t * 1000).toFixed(1)
      const ok = (x.ok / maxOk) * upH
      const fail = (x.failed / maxFail) * downH
      return (
        (x.ok ? `<rect x="${bx}" y="${(mid - ok).toFixed(1)}" width="${bw.toFixed(1)}" height="${ok.toFixed(1)}" class="ok"><title>+${x.t} s: ${x.ok} acknowledged</title></rect>` : '') +
        (x.failed ? `<rect x="${bx}" y="${mid}" width="${bw.toFixed(1)}" height="${fail.toFixed(1)}" class="fail"><title>+${x.t} s: ${x.failed} failed</title></rect>` : '')
      )
    })
    .join('')
  const h = mid + downH + 30
  return `<svg id="rate-chart" class="chart" viewBox="0 0 ${W} ${h}" width="100%" role="img" aria-label="Writes per second" xmlns="http://www.w3.org/2000/svg">
${axis(total, top, upH + downH)}<line x1="${LEFT}" y1="${mid}" x2="${W - RIGHT}" y2="${mid}" class="base"/>
<text x="4" y="${top + 14}" class="lbl">acknowledged writes / s</text><text x="4" y="${top + 30}" class="lbl sub">peak ${maxOk}</text>
<text x="4" y="${mid + 16}" class="lbl">failed writes / s</text><text x="4" y="${mid + 32}" class="lbl sub">peak ${maxFail}</text>
${bars}${markers(r.timeline, xOf, top, upH + downH, true)}</svg>`
}

function steadyTable(title: string, s?: SteadyState): string {
  if (!s) return `<h3>${esc(title)}</h3><p>not checked</p>`
  return `<h3>${esc(title)}: <span class="${s.ok ? 'good' : 'bad'}">${s.ok ? 'holds' : 'does not hold'}</span></h3>
<table><tr><th>probe</th><th>result</th><th>detail</th></tr>${s.probes.map((p) => `<tr><td>${esc(p.name)}</td><td class="${p.ok ? 'good' : 'bad'}">${p.ok ? 'ok' : 'FAIL'}</td><td>${esc(p.detail)}</td></tr>`).join('')}</table>`
}

function activityList(title: string, list: ActivityRecord[]): string {
  if (!list.length) return ''
  const items = list.map((a) => {
    const head = `<span class="dot" style="background:${COLORS[a.role] ?? '#888'}"></span>${esc(a.title)} <span class="st ${a.status}">${esc(a.status)}</span>${a.status === 'skipped' ? '' : ` <span class="muted">+${secs(a.start)}, ${secs(a.durationMs)}</span>`}`
    const body = [
      a.command ? `<pre class="cmd">${esc(a.command)}</pre>` : '',
      a.error ? `<p class="bad">${esc(a.error)}</p>` : '',
      a.steps?.length ? `<table><tr><th>step</th><th>outcome</th><th>at</th><th>took</th></tr>${a.steps.map((s) => `<tr><td>${esc(s.title)}</td><td>${esc(s.outcome)}</td><td>+${secs(s.start)}</td><td>${secs(s.durationMs)}</td></tr>`).join('')}</table>` : '',
      a.output ? `<details><summary>output</summary><pre>${esc(a.output.slice(-4000))}</pre></details>` : '',
    ].join('')
    return `<li><div class="act">${head}</div>${body}</li>`
  })
  return `<h2>${esc(title)}</h2><ol class="acts">${items.join('')}</ol>`
}

const CSS = `body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;margin:0;background:#f5f6f8}
main{max-width:1000px;margin:0 auto;padding:24px}h1{margin:0 0 4px;font-size:26px}h2{margin-top:32px;font-size:19px}h3{font-size:16px}
.verdict{display:inline-block;padding:2px 12px;border-radius:12px;color:#fff;font-weight:600;margin-left:8px;font-size:18px;vertical-align:middle}
.pass{background:#2e9e5b}.fail{background:#d64545}.muted{color:#6b7385;font-size:13px}.good{color:#2e7d4f}.bad{color:#c03030}
.figures{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:18px 0}.fig{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px #0001}
.fig b{display:block;font-size:26px}.fig span{color:#6b7385;font-size:13px}.card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px #0001}
.chart text{font:12px system-ui,sans-serif;fill:#1d2330}.chart .sub{fill:#6b7385}.chart .tick{fill:#6b7385;font-size:11px}.chart .mark{font-weight:600;font-size:11px}
.chart .grid{stroke:#e4e7ec}.chart .base{stroke:#9aa3b5}.chart .ok{fill:#2e9e5b}.chart .fail{fill:#d64545}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0}th,td{border-bottom:1px solid #e4e7ec;padding:4px 8px;text-align:left;vertical-align:top;font-size:13px}
pre{background:#1d2330;color:#e8ebf2;padding:8px 10px;border-radius:6px;overflow-x:auto;font-size:12px;white-space:pre-wrap}
ol.acts{padding-left:20px}ol.acts li{margin-bottom:10px}.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:6px}
.st{font-size:12px;padding:0 6px;border-radius:8px;background:#e4e7ec}.st.failed{background:#f7d4d4;color:#a02020}.st.succeeded{background:#d7f0df;color:#1f6b3e}
.legend span{margin-right:14px;font-size:13px}ul.reasons li{color:#a02020}`

export function renderHtml(r: DrillReport): string {
  const w = r.writes
  const fig = (v: string, label: string) => `<div class="fig"><b>${esc(v)}</b><span>${esc(label)}</span></div>`
  const legend = Object.entries({ check: 'steady state', prepare: 'prepare', fault: 'fault', detect: 'detect', recovery: 'recovery', step: 'runbook step', observe: 'observe', rollback: 'rollback' })
    .map(([k, v]) => `<span><span class="dot" style="background:${COLORS[k]}"></span>${v}</span>`)
    .join('')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Drill ${esc(r.scenario)} — ${esc(r.verdict)} — ${esc(r.cluster)}</title><style>${CSS}</style></head>
<body><main>
<h1>Drill ${esc(r.scenario)} <span class="verdict ${r.verdict}" id="verdict">${r.verdict === 'pass' ? 'PASS' : 'FAIL'}</span></h1>
<div class="muted">${esc(r.title)} · cluster ${esc(r.cluster)}${r.lab ? ' (lab)' : ''} · ${esc(r.startedAt)} · ${secs(r.durationMs)} · drill ${esc(r.id)}</div>
${r.sabotage ? `<p class="bad">The recovery was sabotaged on purpose (${esc(r.sabotage)}).</p>` : ''}
${r.reasons.length ? `<h2>Why it failed</h2><ul class="reasons">${r.reasons.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : ''}
<div class="figures">
${fig(r.recoverySeconds === null ? '—' : `${r.recoverySeconds} s`, 'recovery time: first failed write → first acknowledged write')}
${fig(r.verifiedSeconds === null ? '—' : `${r.verifiedSeconds} s`, 'outage start → recovery verified')}
${fig(String(r.acknowledgedWrites), `acknowledged writes (of ${w.attempted})`)}
${fig(String(r.lostWrites), `acknowledged writes lost${w.lostWithinBudget ? ` (+${w.lostWithinBudget} after the backup)` : ''}`)}
</div>
<div class="card"><ul>${r.description.map((d) => `<li>${esc(d)}</li>`).join('')}</ul></div>
${r.warnings.length ? `<h2>Warnings</h2><ul>${r.warnings.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : ''}
<h2>Timeline</h2><div class="card">${timelineSvg(r)}<div class="legend">${legend}</div></div>
<h2>Writes per second</h2><div class="card">${rateSvg(r)}</div>
<h2>Steady state</h2>
${steadyTable('Before the fault', r.steadyStateBefore)}${steadyTable('After the recovery', r.steadyStateAfter)}${steadyTable('After the rollbacks (the cluster as found)', r.putBack)}
${activityList('Method', r.method)}${activityList('Rollbacks', r.rollbacks)}
${w.lostKeys.length ? `<h2>Lost keys</h2><pre>${esc(w.lostKeys.join('\n'))}</pre>` : ''}
<p class="muted">dr ${esc(r.platform.dr)} · node ${esc(r.platform.node)} · ${esc(r.platform.user)}@${esc(r.platform.hostname)}</p>
</main></body></html>
`
}
