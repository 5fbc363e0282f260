"""Where a dataset lives: a local folder or an fsspec URL (s3://bucket/prefix/, gs://..., memory://...), behind the
few operations the runner, the manifest and verify need, so that each of them is one code path for both.

Files reach a store whole or not at all. Locally they are written under a temporary name and renamed. A remote store
is written from local files: a shard is rendered into a local staging folder and uploaded when complete, and an
object store shows an upload (single or multipart) only once it has finished, so a prefix never holds a partial
object. The backend (s3fs for s3://, gcsfs for gs://) reads its credentials itself, from the environment or its
config files; its errors become one-line UserErrors that say what to set.
"""
from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import uuid
from abc import ABC, abstractmethod
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ContextManager, Iterator

from .errors import UserError

PARTIAL = ".partial"


def partial_path(path: Path) -> Path:
    """A temporary name beside `path` for one write, ending in PARTIAL so that a later run clears leftovers."""
    return path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}{PARTIAL}")


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to path via a fsynced temporary file and a rename: readers see all or nothing."""
    tmp = partial_path(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def stream_sha256(f: BinaryIO) -> str:
    h = hashlib.sha256()
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
    return h.hexdigest()


def is_url(location: str | Path) -> bool:
    return "://" in str(location)


def open_store(location: str | Path) -> Store:
    """A LocalStore for a path or file:// URL, a RemoteStore for any other fsspec URL."""
    text = str(location)
    if text.startswith("file://"):
        return LocalStore(Path(text.removeprefix("file://")))
    return RemoteStore(text) if is_url(text) else LocalStore(Path(text))


class Store(ABC):
    """A flat folder of named files. `local` says whether reading a file back is cheap (no download); `spec` is how
    a Ray worker, maybe on another machine, opens the same store (open_store(spec))."""

    local: bool
    spec: str

    @abstractmethod
    def display(self, name: str) -> str:
        """The file as the user would name it, for messages."""

    @abstractmethod
    def makedirs(self) -> None:
        """Make the folder ready for writing: create it, or check that a remote store's bucket exists."""

    @abstractmethod
    def list(self) -> list[str]:
        """Names of what is directly in the folder (empty when it does not exist yet)."""

    @abstractmethod
    def size(self, name: str) -> int | None:
        """Bytes of the file, None when it is absent."""

    @abstractmethod
    def read_bytes(self, name: str) -> bytes:
        """The whole file; FileNotFoundError when it is absent."""

    @abstractmethod
    def open(self, name: str) -> ContextManager[BinaryIO]:
        """The file for streaming reads (a shard can be large)."""

    @abstractmethod
    def write_atomic(self, name: str, data: bytes) -> None: ...

    @abstractmethod
    def upload(self, local: Path, name: str) -> None:
        """Put a finished local file (one written in staging()) in place under `name`."""

    @abstractmethod
    def remove(self, names: list[str]) -> None: ...

    @abstractmethod
    def staging(self) -> ContextManager[Path]:
        """A local folder to write files in before upload(): the folder itself when local, else a temporary one."""

    def exists(self, name: str) -> bool:
        return self.size(name) is not None

    def sha256(self, name: str) -> str:
        with self.open(name) as f:
            return stream_sha256(f)


class LocalStore(Store):
    local = True

    def __init__(self, root: Path):
        self.root = root
        self.spec = str(root.resolve())

    def __str__(self) -> str:
        return str(self.root)

    def display(self, name: str) -> str:
        return str(self.root / name)

    def makedirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def list(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir()) if self.root.is_dir() else []

    def size(self, name: str) -> int | None:
        path = self.root / name
        return path.stat().st_size if path.is_file() else None

    def read_bytes(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def open(self, name: str) -> ContextManager[BinaryIO]:
        return open(self.root / name, "rb")

    def write_atomic(self, name: str, data: bytes) -> None:
        write_atomic(self.root / name, data)

    def upload(self, local: Path, name: str) -> None:
        target = self.root / name
        if local.resolve() != target.resolve():
            os.replace(local, target)

    def remove(self, names: list[str]) -> None:
        for name in names:
            (self.root / name).unlink(missing_ok=True)

    def staging(self) -> ContextManager[Path]:
        return nullcontext(self.root)


class RemoteStore(Store):
    """An fsspec URL. Listings are never taken from fsspec's cache: other processes (Ray workers, an earlier run)
    write here too."""

    local = False

    def __init__(self, url: str):
        self.url = self.spec = url.rstrip("/")
        self.scheme = self.url.split("://", 1)[0]
        with storage_errors(self.url):
            import fsspec

            if self.scheme not in fsspec.available_protocols():
                raise UserError(f"{self.url}: fsspec knows no {self.scheme}:// storage; pass a local folder or a "
                                f"URL such as s3://bucket/prefix/")
            self.fs = _filesystem(self.scheme, tuple(sorted(credential_env().items())), os.getpid())
        self.root = self.fs._strip_protocol(self.url).rstrip("/")

    def __str__(self) -> str:
        return self.url

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def display(self, name: str) -> str:
        return f"{self.url}/{name}"

    def makedirs(self) -> None:
        """Object stores have no folders to make, and buckets are not made by accident: a missing one is an error."""
        self._check_bucket()

    def _check_bucket(self) -> None:
        if self.scheme not in BACKENDS:  # the object stores, where a URL's first component is a bucket or container
            return
        with self._bucket_needed():
            try:
                self.fs.info(self.root.split("/")[0])
            except PermissionError:
                pass  # a policy can grant the prefix but not the bucket's metadata; the next call tells

    @contextmanager
    def _bucket_needed(self) -> Iterator[None]:
        """FileNotFoundError from a write or listing means the bucket (or the folder above the prefix) is missing."""
        with storage_errors(self.url):
            try:
                yield
            except FileNotFoundError:
                bucket = self.root.split("/")[0]
                raise UserError(f"{self.url}: bucket '{bucket}' does not exist (or these credentials cannot see "
                                f"it); create it or fix the URL") from None

    def list(self) -> list[str]:
        with self._bucket_needed():
            self.fs.invalidate_cache()
            found = self.fs.find(self.root, maxdepth=1, withdirs=True)
        return sorted(p.rsplit("/", 1)[-1] for p in found if p.rstrip("/") != self.root)

    def size(self, name: str) -> int | None:
        with storage_errors(self.url):
            self.fs.invalidate_cache()
            try:
                info = self.fs.info(self._path(name))
            except FileNotFoundError:
                return None
        return int(info["size"]) if info.get("type") == "file" else None

    def read_bytes(self, name: str) -> bytes:
        with storage_errors(self.url):
            try:
                return self.fs.cat_file(self._path(name))
            except FileNotFoundError:
                self._check_bucket()  # a missing bucket says so; a missing file stays FileNotFoundError
                raise

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        with storage_errors(self.url), self.fs.open(self._path(name), "rb") as f:
            yield f

    def write_atomic(self, name: str, data: bytes) -> None:
        with self._bucket_needed():
            self.fs.pipe_file(self._path(name), data)

    def upload(self, local: Path, name: str) -> None:
        with self._bucket_needed():
            self.fs.put_file(str(local), self._path(name))

    def remove(self, names: list[str]) -> None:
        if names:
            with storage_errors(self.url):
                self.fs.rm([self._path(n) for n in names])

    def staging(self) -> ContextManager[Path]:
        return _temporary_folder()


@functools.lru_cache(maxsize=8)
def _filesystem(scheme: str, env: tuple[tuple[str, str], ...], pid: int) -> Any:
    """One backend instance per scheme, credential variables and process: making an S3 client costs ~0.2 s of
    CPU, too much per shard, while fsspec's own instance cache would keep old credentials after the variables
    change (and is not to be shared across a fork)."""
    import fsspec

    return fsspec.filesystem(scheme, skip_instance_cache=True)


@contextmanager
def _temporary_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pseudomotion-") as folder:
        yield Path(folder)


# ------------------------------------------------------------------------------------------ backends and errors

@dataclass(frozen=True)
class Backend:
    """What a person does about one fsspec scheme: install its package, give it credentials, reach its endpoint."""

    install: str
    credentials: str
    endpoint: str


_S3 = Backend("pip install 'pseudomotion[s3]' (s3fs)",
              "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL for a store other than AWS), "
              "or configure ~/.aws/credentials",
              "check AWS_ENDPOINT_URL (or endpoint_url in ~/.aws/config) and the network")
_GCS = Backend("pip install gcsfs",
               "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run "
               "`gcloud auth application-default login`",
               "check the network")
_AZURE = Backend("pip install adlfs",
                 "set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY",
                 "check the network")
BACKENDS = {"s3": _S3, "s3a": _S3, "gs": _GCS, "gcs": _GCS, "az": _AZURE, "abfs": _AZURE}

# Environment variables the backends read credentials and endpoints from, by prefix; forwarded to the local Ray
# instance's workers (a cluster's workers use their own environment or config files).
CREDENTIAL_ENV_PREFIXES = ("AWS_", "GOOGLE_", "AZURE_", "FSSPEC_")

# Backends raise their own exception types (botocore, google-auth, aiohttp); matching class names keeps synth free
# of importing them.
_NO_CREDENTIALS = {"NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError",
                   "ClientAuthenticationError", "RefreshError"}
_UNREACHABLE = {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
                "ClientConnectorError", "ServerTimeoutError", "ConnectionError", "TimeoutError"}


def credential_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(CREDENTIAL_ENV_PREFIXES)}


def backend(url: str) -> Backend:
    scheme = url.split("://", 1)[0]
    return BACKENDS.get(scheme, Backend(f"install the fsspec backend for {scheme}://",
                                        f"configure the credentials of the fsspec backend for {scheme}://",
                                        "check the network"))


def explain(url: str, e: BaseException) -> UserError | None:
    """A storage failure as one line naming the URL and the fix; None for what is not a storage failure (a bug, or
    FileNotFoundError, which each caller words itself)."""
    names = {c.__name__ for c in type(e).__mro__}
    hint = backend(url)
    detail = str(e).splitlines()[0] if str(e) else type(e).__name__
    if isinstance(e, ImportError):
        return UserError(f"{url}: cannot open this URL, its fsspec backend is missing ({detail}); {hint.install}")
    if names & _NO_CREDENTIALS:
        return UserError(f"{url}: no credentials found ({detail}); {hint.credentials}")
    if isinstance(e, PermissionError):
        return UserError(f"{url}: access denied ({detail}); check the credentials: {hint.credentials}")
    if names & _UNREACHABLE:
        return UserError(f"{url}: the storage endpoint does not answer ({detail}); {hint.endpoint}")
    if isinstance(e, FileNotFoundError):
        return None
    if isinstance(e, OSError) or "BotoCoreError" in names or "ClientError" in names:
        return UserError(f"{url}: storage error ({detail}); check the URL and the credentials: {hint.credentials}")
    return None


@contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """Turn the backend's failures inside the block into UserError (see explain)."""
    try:
        yield
    except UserError:
        raise
    except Exception as e:
        error = explain(url, e)
        if error is None:
            raise
        raise error from None
