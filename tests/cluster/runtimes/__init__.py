"""Programs that stand in for the platform's own containers when the test kubelet runs a pod (pods/images.py has
the image -> program table). Each does what its upstream counterpart does, with upstream's code where PyPI has it."""
