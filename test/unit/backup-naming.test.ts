import t from 'tap'
import { backupId, compactTime, isPartialName, metadataName, parseId, parseMetadataName, parsePayloadName, partialName, payloadName } from '../../src/backup/naming.ts'
import { decodeMetadata } from '../../src/backup/metadata.ts'

t.test('a name carries cluster, time and revision, and parses back', async (t) => {
  const at = new Date('2026-11-21T22:20:05.987Z')
  const id = backupId('lab-east.1', at, 4711)
  t.equal(id, 'lab-east.1_20261121T222005Z_r4711')
  const name = payloadName(id, { compression: 'brotli', encrypted: true })
  t.equal(name, 'lab-east.1_20261121T222005Z_r4711.db.br.age')
  const p = parsePayloadName(name)!
  t.equal(p.id, id)
  t.equal(p.cluster, 'lab-east.1')
  t.equal(p.revision, 4711)
  t.equal(p.createdAt.toISOString(), '2026-11-21T22:20:05.000Z')
  t.equal(p.compression, 'brotli')
  t.ok(p.encrypted)
  // gzip: every backup dr wrote before brotli became the default.
  t.same(parsePayloadName('lab-east.1_20261121T222005Z_r4711.db.gz.age'), { ...p, compression: 'gzip' })
  t.equal(payloadName(id, { compression: 'gzip', encrypted: false }), 'lab-east.1_20261121T222005Z_r4711.db.gz')
  t.same(parsePayloadName(payloadName(id, { compression: 'none', encrypted: false })), { ...p, compression: 'none', encrypted: false })
  t.equal(parseMetadataName(metadataName(id)), id)
  t.equal(parseId(id)!.revision, 4711)
  t.equal(compactTime(at), '20261121T222005Z')
})

t.test('temporary and foreign names are never taken for backups', async (t) => {
  const tmp = partialName('lab_20261121T222005Z_r1.db.gz', 'abcd')
  t.ok(isPartialName(tmp))
  t.equal(parsePayloadName(tmp), undefined)
  for (const n of ['lab_20261121T222005Z_r1.db.gz.tmp', 'lab_20261121T222005Z_r1.db.zst', 'lab_20261121T222005Z_r1.db.br.gz', 'lab_2026-11-21_r1.db', 'README', 'lab_20261121T222005Z_r1.meta.json', '_20261121T222005Z_r1.db']) {
    t.equal(parsePayloadName(n), undefined, n)
  }
  t.throws(() => backupId('bad_name', new Date(), 1), /cannot be used/)
  t.throws(() => backupId('a/b', new Date(), 1))
})

t.test('metadata is validated with every problem named', async (t) => {
  t.throws(() => decodeMetadata('{"format":"dr-backup/1"}', 'x.meta.json'), /x\.meta\.json: .*id/)
  t.throws(() => decodeMetadata('not json', 'y'), /y: not JSON/)
})
