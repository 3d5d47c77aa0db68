"""The bucket provisioner (lib-bucket-provisioner / NooBaa): ObjectBucketClaim -> bucket name in the
spec, a cluster-scoped ObjectBucket, a ConfigMap (BUCKET_HOST, BUCKET_PORT, BUCKET_NAME, BUCKET_REGION,
BUCKET_SUBREGION) and a Secret (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), both named after the claim
and owned by it, then phase Bound.

When the Secret kube-system/simulator-s3 exists (see control_plane.set_simulator_s3) the bucket is
really created in that S3 server (through its AWS_S3_ENDPOINT, reachable from the host) and the claim's Secret
carries that server's keys; the ConfigMap names the server's in-cluster address (BUCKET_HOST, BUCKET_PORT of
that Secret: with a pod network, the control plane's ODF stand-in `s3.openshift-storage.svc` on 443, https with
a service-CA certificate, as NooBaa's `s3-https` port) or, without those keys, the host and port of
AWS_S3_ENDPOINT. Without the Secret the keys are random and the host is the ODF one (s3.openshift-storage.svc:443).
Outcome key `objectbucketclaims`: fail = phase Failed, ignore = stays without status (as with no provisioner).
"""

from __future__ import annotations

import base64
import secrets
import urllib.parse
import uuid

from ..kube import JSON, object_path
from .engine import Kind, Simulator
from .objects import apply, owner_reference, set_status

CLAIMS = Kind("objectbucket.io/v1alpha1", "objectbucketclaims", "ObjectBucketClaim")
BUCKETS = Kind("objectbucket.io/v1alpha1", "objectbuckets", "ObjectBucket", namespaced=False)
S3_SECRET = ("kube-system", "simulator-s3")
ODF_HOST, ODF_PORT = "s3.openshift-storage.svc", 443


def _s3_backend(sim: Simulator) -> dict[str, str] | None:
    namespace, name = S3_SECRET
    secret = sim.kube.get(object_path("v1", "secrets", name, namespace))
    if secret is None:
        return None
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def _create_bucket(backend: dict[str, str], bucket: str) -> None:
    import boto3  # only needed with a real S3 server behind the claims

    client = boto3.client(
        "s3",
        endpoint_url=backend["AWS_S3_ENDPOINT"],
        aws_access_key_id=backend["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=backend["AWS_SECRET_ACCESS_KEY"],
        region_name=backend.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
    try:
        client.create_bucket(Bucket=bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass


def claim(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Provision the bucket of one claim (and remove the ObjectBucket of a deleted claim)."""
    bucket_object = f"obc-{namespace}-{name}"
    if obj is None:
        if sim.kube.get(BUCKETS.path(bucket_object)) is not None:
            sim.kube.request("DELETE", BUCKETS.path(bucket_object))
        return None
    if (obj.get("status") or {}).get("phase") in ("Bound", "Failed") or obj["metadata"].get("deletionTimestamp"):
        return None
    outcome = sim.outcome([obj], "objectbucketclaims")
    if outcome == "ignore":
        return None
    if outcome == "fail":
        set_status(sim.kube, kind, obj, {"phase": "Failed"})
        return None
    spec = obj["spec"]
    bucket = spec.get("bucketName") or f"{spec.get('generateBucketName') or name}-{uuid.uuid4()}"
    if spec.get("bucketName") != bucket or spec.get("objectBucketName") != bucket_object:
        obj = sim.kube.merge_patch(kind.path(name, namespace), {"spec": {"bucketName": bucket, "objectBucketName": bucket_object}}) or obj
    backend = _s3_backend(sim)
    if backend:
        _create_bucket(backend, bucket)
        endpoint = urllib.parse.urlsplit(backend["AWS_S3_ENDPOINT"])
        host = backend.get("BUCKET_HOST") or endpoint.hostname or ""
        port = int(backend.get("BUCKET_PORT") or endpoint.port or (443 if endpoint.scheme == "https" else 80))
        region = backend.get("AWS_DEFAULT_REGION", "")
        keys = {"AWS_ACCESS_KEY_ID": backend["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": backend["AWS_SECRET_ACCESS_KEY"]}
    else:
        host, port, region = ODF_HOST, ODF_PORT, ""
        keys = {"AWS_ACCESS_KEY_ID": secrets.token_hex(10).upper(), "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30)}
    owner = [owner_reference(obj)]
    labels = {"bucket-provisioner": "openshift-storage.noobaa.io-obc", "app": "noobaa"}
    apply(
        sim.kube,
        {
            "apiVersion": "objectbucket.io/v1alpha1",
            "kind": "ObjectBucket",
            "metadata": {"name": bucket_object, "labels": labels},
            "spec": {
                "storageClassName": spec["storageClassName"],
                "reclaimPolicy": "Delete",
                "claimRef": {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": name, "namespace": namespace, "uid": obj["metadata"]["uid"]},
                "endpoint": {"bucketHost": host, "bucketPort": port, "bucketName": bucket, "region": region, "subRegion": "", "additionalConfig": {}},
            },
        },
        BUCKETS.plural,
    )
    bucket_now = sim.kube.get(BUCKETS.path(bucket_object))
    if bucket_now is not None:
        set_status(sim.kube, BUCKETS, bucket_now, {"phase": "Bound"})
    data = {"BUCKET_HOST": host, "BUCKET_PORT": str(port), "BUCKET_NAME": bucket, "BUCKET_REGION": region, "BUCKET_SUBREGION": ""}
    meta = {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": owner}
    apply(sim.kube, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}, "configmaps")
    apply(sim.kube, {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque", "stringData": keys}, "secrets")
    set_status(sim.kube, kind, obj, {"phase": "Bound"})
    return None
