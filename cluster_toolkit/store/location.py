"""Where a library lives: a local folder (the default) or a URL of an fsspec filesystem (``s3://bucket/ctk``).

A remote library is opened through `universal_pathlib <https://github.com/fsspec/universal_pathlib>`_
(``UPath``: pathlib's API over fsspec), so the store's code walks folders and parts the same way on both.
Credentials and the endpoint come from fsspec's and botocore's usual places, never from ctk's command line:
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_PROFILE``, and for an S3-compatible server (MinIO, Ceph,
moto) ``FSSPEC_S3_ENDPOINT_URL`` (fsspec's per-protocol configuration, also read from
``~/.config/fsspec/*.json``) or botocore's ``AWS_ENDPOINT_URL_S3``. None of this is imported until a URL is
opened: ``ctk --help`` and local libraries never load s3fs or botocore.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from cluster_toolkit.errors import StoreError

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
#: protocols whose libraries ctk can write: the lock needs create-only writes (cluster_toolkit.store.object_lock)
WRITABLE_PROTOCOLS = ("s3", "s3a")


def protocol_of(location: str | Path) -> str | None:
    """The URL scheme of ``location`` (``"s3"``), ``None`` for a local path (``file://`` counts as local)."""
    if isinstance(location, Path):
        return None
    match = _SCHEME.match(str(location))
    if match is None or match.group(1).lower() == "file":
        return None
    return match.group(1).lower()


def is_remote(location: object) -> bool:
    """True for a URL of a remote filesystem (a ``UPath`` or a string such as ``s3://bucket/ctk``)."""
    if isinstance(location, Path):
        return False
    return protocol_of(str(location)) is not None


def library_location(value: str | Path) -> Path | str:
    """``--library``'s value: a local :class:`Path`, or the URL itself as a string (a ``Path`` would fold
    ``s3://`` into ``s3:/``); ``file://`` URLs become paths."""
    if isinstance(value, Path):
        return value
    text = str(value)
    if text.lower().startswith("file://"):
        return Path(text[len("file://"):])
    return text if protocol_of(text) else Path(text)


def remote_root(url: str) -> Any:
    """The ``UPath`` of the library at ``url``, its filesystem made with fsspec's configuration for the protocol.

    Raises :class:`StoreError` naming the extra to install when the filesystem's package is missing.
    """
    try:
        from upath import UPath
    except ImportError as exc:
        raise StoreError(f"{url}: remote libraries need universal-pathlib; pip install 'ctk[s3]'") from exc
    url = url.rstrip("/")
    try:
        root = UPath(url)
        root.fs  # noqa: B018 - makes the filesystem now, so that a missing package is reported here
    except ImportError as exc:
        raise StoreError(f"{url}: no filesystem for {protocol_of(url)}:// ({exc}); for s3:// pip install 'ctk[s3]'") \
            from exc
    except ValueError as exc:
        raise StoreError(f"{url}: not a usable library location ({exc})") from exc
    return root


def side_cache(url: str) -> Path:
    """The local folder for a remote library's side files (clustering runs' pictures, ``hdbscan.pkl``, the
    neighbour index cache): ``<user cache>/ctk/remote/<protocol>/<bucket and prefix>-<hash>``."""
    import platformdirs

    protocol = protocol_of(url) or "file"
    rest = _SCHEME.sub("", url).strip("/")
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", rest)[-80:]
    digest = hashlib.blake2b(url.encode(), digest_size=6).hexdigest()
    return Path(platformdirs.user_cache_dir("ctk", appauthor=False)) / "remote" / protocol / f"{readable}-{digest}"
