// An S3-compatible bucket (AWS SDK v3). Saves are multipart uploads: S3 makes the object visible only when the
// upload is completed, so an interrupted backup never shows up; failed uploads are aborted (no orphan parts).
import { Readable, Transform } from 'node:stream'
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { DrError } from '../core/error.ts'
import type { StoreConfig } from '../inventory/types.ts'
import type { BackupStore, SaveOptions, StoredObject } from './store.ts'

type S3Config = Extract<StoreConfig, { type: 's3' }>

/** 8 MiB parts, 4 in flight: at most ~32 MiB buffered whatever the snapshot size. */
const PART_SIZE = 8 * 1024 * 1024
const QUEUE = 4

export class S3Store implements BackupStore {
  readonly type = 's3' as const
  readonly name: string
  private readonly client: S3Client
  constructor(
    readonly cfg: S3Config,
    env: NodeJS.ProcessEnv,
  ) {
    this.name = cfg.name
    const keyId = env[cfg.accessKeyEnv ?? 'AWS_ACCESS_KEY_ID']
    const secret = env[cfg.secretKeyEnv ?? 'AWS_SECRET_ACCESS_KEY']
    if ((cfg.accessKeyEnv || cfg.secretKeyEnv) && (!keyId || !secret)) {
      throw new DrError({
        code: 'backup.s3-credentials',
        message: `store "${cfg.name}": $${cfg.accessKeyEnv ?? 'AWS_ACCESS_KEY_ID'} and $${cfg.secretKeyEnv ?? 'AWS_SECRET_ACCESS_KEY'} must be set`,
        hint: 'export the access key id and secret in those variables, or change accessKeyEnv/secretKeyEnv in the inventory',
        exit: 'usage',
      })
    }
    this.client = new S3Client({
      region: cfg.region,
      endpoint: cfg.endpoint,
      forcePathStyle: cfg.forcePathStyle,
      credentials: keyId && secret ? { accessKeyId: keyId, secretAccessKey: secret } : undefined,
      maxAttempts: 3,
    })
  }

  private key(name: string) {
    return `${this.cfg.prefix}${name}`
  }

  async list(): Promise<StoredObject[]> {
    const out: StoredObject[] = []
    let token: string | undefined
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.cfg.bucket, Prefix: this.cfg.prefix, ContinuationToken: token }))
      for (const o of r.Contents ?? []) {
        const name = (o.Key ?? '').slice(this.cfg.prefix.length)
        if (!name || name.includes('/')) continue
        out.push({ name, size: o.Size ?? 0, modifiedAt: o.LastModified })
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined
    } while (token)
    return out
  }

  async fetch(name: string): Promise<Readable> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.cfg.bucket, Key: this.key(name) }))
    return r.Body as Readable
  }

  async save(name: string, source: Readable, opts: SaveOptions = {}): Promise<{ size: number }> {
    let size = 0
    const body = new Transform({
      transform(chunk: Buffer, _e, cb) {
        size += chunk.length
        cb(null, chunk)
      },
      // The last part (and so the completion that makes the object visible) waits for the commit.
      flush(cb) {
        Promise.resolve(opts.commit).then(() => cb(), cb)
      },
    })
    source.pipe(body)
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.cfg.bucket, Key: this.key(name), Body: body },
      partSize: PART_SIZE,
      queueSize: QUEUE,
      leavePartsOnError: false,
    })
    const abort = () => void upload.abort().catch(() => {})
    opts.signal?.addEventListener('abort', abort, { once: true })
    // A failed source must fail the upload (and abort it), not leave it waiting for more parts.
    const failed = new Promise<never>((_, reject) => {
      source.once('error', reject)
      source.once('close', () => {
        if (!source.readableEnded) reject(new Error('the snapshot stream was cut before its end'))
      })
    })
    failed.catch(() => {})
    try {
      await Promise.race([upload.done(), failed])
    } catch (e) {
      abort()
      throw e
    } finally {
      opts.signal?.removeEventListener('abort', abort)
    }
    return { size }
  }

  async delete(name: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.cfg.bucket, Key: this.key(name) }))
  }

  location(name: string): string {
    return `s3://${this.cfg.bucket}/${this.key(name)}`
  }

  async close() {
    this.client.destroy()
  }
}
