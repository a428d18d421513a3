// The run journal: started before anything happens, one JSONL record per event, finalised in `finally`.
// Appended with fsync so a run killed mid-step still leaves a true record of what it had begun.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export interface JournalRecord {
  time: string
  runId: string
  event: 'run-start' | 'plan' | 'step-start' | 'step-end' | 'run-end' | 'note'
  step?: string
  host?: string
  status?: string
  changes?: unknown
  evidence?: string
  error?: unknown
  durationMs?: number
  [k: string]: unknown
}

export class Journal {
  readonly path: string
  private fd: number
  constructor(
    dir: string,
    readonly runId: string,
    runbook: string,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    this.path = path.join(dir, `${runId}-${runbook}.jsonl`)
    this.fd = fs.openSync(this.path, 'a', 0o600)
  }

  write(rec: Omit<JournalRecord, 'time' | 'runId'>) {
    const line = JSON.stringify({ time: new Date().toISOString(), runId: this.runId, ...rec }, redact) + '\n'
    fs.writeSync(this.fd, line)
    fs.fsyncSync(this.fd)
  }

  close() {
    fs.closeSync(this.fd)
  }
}

/** Private keys never reach a journal, whatever a step put in its record. */
function redact(key: string, value: unknown) {
  if (typeof value === 'string' && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)) return '[redacted private key]'
  if (/^(privateKey|key|password|secret)$/i.test(key) && typeof value === 'string') return '[redacted]'
  return value
}

export function newRunId(now = new Date()): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z') + '-' + process.pid
}

export function runMeta() {
  return { user: os.userInfo().username, hostname: os.hostname(), pid: process.pid, node: process.version }
}

export function readJournal(file: string): JournalRecord[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as JournalRecord)
}
