"""A real Kubernetes control plane for the cluster tests: upstream etcd, kube-apiserver and
kube-controller-manager built from this directory's Go module, our CRDs for the OpenShift and
OpenShift AI kinds, and a simulator of the platform controllers. See README.md."""
