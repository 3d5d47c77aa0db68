"""KServe's storage initializer (`/storage-initializer/scripts/initializer-entrypoint URI DEST [URI DEST ...]`)
with the real `kserve-storage` package, as upstream's entrypoint calls it (kserve python/storage-initializer/
scripts/initializer-entrypoint): pairs of source URI and destination folder, `Storage.download_files`, and on a
RuntimeError the log line "Storage initialization failed: <reason>" and exit status 1 (the kubelet then puts the
log's end in the termination message: the init container's terminationMessagePolicy is FallbackToLogsOnError).
The credentials and CA come from the environment KServe's webhook gives the container: STORAGE_CONFIG (the
storage-config entry), CA_BUNDLE_CONFIGMAP_NAME and CA_BUNDLE_VOLUME_MOUNT_POINT.
"""

from __future__ import annotations

import sys

from kserve_storage import Storage, configure_logging, logger


def main(argv: list[str]) -> int:
    configure_logging()
    if len(argv) < 2 or len(argv) % 2:
        logger.error("Usage: initializer-entrypoint src_uri dest_path [src_uri dest_path ...]")
        return 1
    try:
        Storage.download_files(argv[0::2], argv[1::2])
    except RuntimeError as error:
        logger.error("Storage initialization failed: %s", error)
        return 1
    except Exception as error:  # noqa: BLE001 - upstream's entrypoint reports any error the same way
        logger.error("Unexpected error during storage initialization: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
