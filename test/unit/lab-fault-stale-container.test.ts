import t from 'tap'
import { nextAttemptName } from '../../src/lab/fault-stale-container.ts'

t.test("the next attempt's name: the kubelet's k8s_…_<attempt> with the attempt plus one", async (t) => {
  t.equal(nextAttemptName('k8s_kube-apiserver_kube-apiserver-master1_kube-system_4cd76d38b35d379f3c6001ea4f9c67df_0'), 'k8s_kube-apiserver_kube-apiserver-master1_kube-system_4cd76d38b35d379f3c6001ea4f9c67df_1')
  t.equal(nextAttemptName('k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_1403dda53affdfee1130475a6d9609da_23'), 'k8s_kube-apiserver_kube-apiserver-pi-master1_kube-system_1403dda53affdfee1130475a6d9609da_24', "seed 002's pair")
  t.throws(() => nextAttemptName('kube-apiserver'), { code: 'lab.fault-failed' }, "RKE's fixed name is no kubelet name")
})
