// Real kubectl (Debian's kubernetes-client, 1.20) against the kubeadm-flavor lab's Kubernetes API: the same suite
// as on the RKE flavor (test/helpers/kubectl-suite.ts), with kubeadm's node roles.
import t from 'tap'
import { TestLab } from '../helpers/lab.ts'
import { kubectlSuite } from '../helpers/kubectl-suite.ts'

t.setTimeout(900_000) // a new lab (and, when its content changed, the inner image) first
kubectlSuite(t, new TestLab('e2e-kubectl-kadm', ['--flavor', 'kubeadm']), { flavor: 'kubeadm', master: 'control-plane,master', worker: '<none>' })
