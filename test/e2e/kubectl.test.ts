// Real kubectl (Debian's kubernetes-client, 1.20) against the RKE-flavor lab's Kubernetes API: the usual columns,
// describe, cordon, taint, drain and delete node, each checked in etcd (test/helpers/kubectl-suite.ts).
import t from 'tap'
import { TestLab } from '../helpers/lab.ts'
import { kubectlSuite } from '../helpers/kubectl-suite.ts'

t.setTimeout(900_000) // a new lab (and, when its content changed, the inner image) first
kubectlSuite(t, new TestLab('e2e-kubectl'), { flavor: 'rke', master: 'controlplane,etcd', worker: 'worker' })
