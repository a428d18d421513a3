// A small client for the lab's Kubernetes API (the stand-in), used by `lab up` for sample pods and by the tests.
// Verifies the apiserver against the lab CA and authenticates with the kube-admin certificate.
import fs from 'node:fs'
import https from 'node:https'
import path from 'node:path'
import { APISERVER_PORT } from './controlplane.ts'

export interface ApiAnswer {
  code: number
  body: any
}

export interface ApiClient {
  request(method: string, path: string, body?: unknown, contentType?: string): Promise<ApiAnswer>
}

export function apiClient(pkiDir: string, ip: string, timeoutMs = 5000): ApiClient {
  const read = (f: string) => fs.readFileSync(path.join(pkiDir, f))
  const tls = { ca: read('kube-ca.pem'), cert: read('kube-admin.pem'), key: read('kube-admin-key.pem') }
  return {
    request(method, p, body, contentType = 'application/json') {
      return new Promise((resolve, reject) => {
        const req = https.request(
          `https://${ip}:${APISERVER_PORT}${p}`,
          { method, ...tls, signal: AbortSignal.timeout(timeoutMs), headers: { 'content-type': contentType, accept: 'application/json' } },
          (res) => {
            let text = ''
            res.on('data', (d) => (text += d))
            res.on('end', () => {
              let parsed: unknown = text
              try {
                parsed = JSON.parse(text)
              } catch {}
              resolve({ code: res.statusCode ?? 0, body: parsed })
            })
          },
        )
        req.on('error', reject)
        req.end(body === undefined ? undefined : JSON.stringify(body))
      })
    },
  }
}

/** GET /readyz without a client certificate, as a load balancer's health check does. */
export async function readyz(pkiDir: string, ip: string, timeoutMs = 4000): Promise<{ ok: boolean; text: string }> {
  const ca = fs.readFileSync(path.join(pkiDir, 'kube-ca.pem'))
  return new Promise((resolve) => {
    const req = https.get(`https://${ip}:${APISERVER_PORT}/readyz`, { ca, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      let text = ''
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve({ ok: res.statusCode === 200, text: text.trim() }))
    })
    req.on('error', (e) => resolve({ ok: false, text: e.message }))
  })
}
