// Bytes held between a stream's writes until a whole unit (an age chunk, a gzip block, a gRPC message) can be taken: the parts as
// they came, never joined until taken.
export class ByteQueue {
  private parts: Buffer[] = []
  bytes = 0

  add(b: Buffer) {
    if (b.length === 0) return
    this.parts.push(b)
    this.bytes += b.length
  }

  /** The next `n` bytes: a view when they lie in one part, else one copy. */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0)
    const first = this.parts[0]
    if (first.length < n) return this.fill(Buffer.allocUnsafe(n))
    this.parts[0] = first.subarray(n)
    if (first.length === n) this.parts.shift()
    this.bytes -= n
    return first.subarray(0, n)
  }

  /** Copy the next `dst.length` bytes into `dst` (a buffer the caller reuses) and return it. */
  fill(dst: Buffer): Buffer {
    const n = dst.length
    for (let at = 0; at < n; ) {
      const p = this.parts[0]
      const k = Math.min(p.length, n - at)
      p.copy(dst, at, 0, k)
      at += k
      if (k === p.length) this.parts.shift()
      else this.parts[0] = p.subarray(k)
    }
    this.bytes -= n
    return dst
  }
}
