"""Downloads of ``http(s)://`` and ``file://`` URLs, checked against a sha256.

A download is written to a hidden temporary file beside its destination, hashed while
it arrives, and renamed to the final name only when every byte came and the sha256
matches. A partial or corrupt download is therefore never visible under the final
name. Connection errors, timeouts, short bodies and HTTP 5xx answers are retried with
exponential backoff; any other HTTP error fails at once.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import SnakeyardError
from ..files import CHUNK, human_bytes, special_kind

SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
UNCHECKED = "unchecked"  # the documented opt-out of checksum verification
PROGRESS_MIN_BYTES = 8 << 20  # smaller files are not worth progress lines
PROGRESS_STEP = 0.1  # report every 10 % of a large file
USER_AGENT = "snakeyard-download"


class DownloadError(SnakeyardError):
    """A URL that could not be downloaded, after the retries allowed."""


class ChecksumError(DownloadError):
    """Downloaded bytes whose sha256 is not the one expected."""


@dataclass(frozen=True)
class DownloadOptions:
    """How hard to try: per-attempt timeout, number of retries, and backoff between them."""

    timeout: float = 60.0  # seconds without progress before an attempt is abandoned
    retries: int = 4  # attempts after the first one
    backoff: float = 1.0  # seconds before the first retry, doubled for each further one


class _Retryable(Exception):
    """A failure worth another attempt: connection trouble or a 5xx answer."""


def check_sha256(value: str, url: str) -> str:
    """Return a sha256 (64 lower-case hex digits) or ``unchecked``; refuse anything else."""
    if value == UNCHECKED or SHA256_PATTERN.fullmatch(str(value)):
        return value
    raise SnakeyardError(
        f"invalid sha256 {value!r} for {url}: use 64 hexadecimal digits (lower case), "
        f"or '{UNCHECKED}' to skip the check"
    )


def file_name(url: str) -> str:
    """The file name a URL's last path segment gives, e.g. ``train-images-idx3-ubyte.gz``."""
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rstrip("/").rpartition("/")[2])
    if not name or name in (".", ".."):
        raise SnakeyardError(f"URL {url} does not end in a file name; give the entry a 'path'")
    return name


def download(
    url: str,
    dest: Path,
    sha256: str,
    options: DownloadOptions = DownloadOptions(),
    log: Callable[[str], None] = print,
) -> int:
    """Download ``url`` to ``dest`` and return its size; ``sha256`` may be ``unchecked``.

    Raises :class:`ChecksumError` on a mismatch and :class:`DownloadError` when the
    retries are exhausted; in both cases ``dest`` is left as it was.
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise SnakeyardError(f"unsupported URL {url!r}: use http://, https:// or file://")
    check_sha256(sha256, url)
    if scheme == "file":
        _check_local(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex}.part"
    try:
        size, actual = _fetch_with_retries(url, tmp, options, log)
        if sha256 != UNCHECKED and actual != sha256:
            raise ChecksumError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got {actual} "
                f"({human_bytes(size)} downloaded)"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    if sha256 == UNCHECKED:
        log(f"warning: {url} was not checked (sha256: {UNCHECKED}); its sha256 is {actual}")
    return size


def _check_local(url: str) -> None:
    """Refuse a ``file://`` URL naming a pipe, socket or device, in one line: reading a
    pipe waits for a writer forever (no timeout applies to a local open)."""
    path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    kind = special_kind(path)
    if kind:
        raise DownloadError(f"cannot download {url}: {path} is {kind}, not a regular file")


def _fetch_with_retries(
    url: str, tmp: Path, options: DownloadOptions, log: Callable[[str], None]
) -> tuple[int, str]:
    attempts = options.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            return _fetch_once(url, tmp, options.timeout, log)
        except _Retryable as problem:
            if attempt == attempts:
                raise DownloadError(
                    f"cannot download {url}: {problem} (gave up after {attempts} attempts)"
                ) from None
            wait = options.backoff * 2 ** (attempt - 1)
            log(f"{url}: {problem}; attempt {attempt + 1} of {attempts} in {wait:g} s")
            time.sleep(wait)
    raise AssertionError("unreachable")


def _fetch_once(url: str, tmp: Path, timeout: float, log: Callable[[str], None]) -> tuple[int, str]:
    """One attempt: stream the body into ``tmp``, hashing it; return size and sha256."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code >= 500:
            raise _Retryable(f"HTTP {error.code} {error.reason}") from None
        raise DownloadError(f"cannot download {url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise DownloadError(f"cannot download {url}: {error.reason}") from None
        raise _Retryable(f"connection failed ({error.reason})") from None
    except (OSError, http.client.HTTPException) as error:
        raise _Retryable(f"connection failed ({error})") from None
    digest = hashlib.sha256()
    size = 0
    with response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        progress = _Progress(url, expected, log)
        try:
            with open(tmp, "wb") as handle:
                while chunk := response.read(CHUNK):
                    digest.update(chunk)
                    handle.write(chunk)
                    size += len(chunk)
                    progress(size)
        except (OSError, http.client.HTTPException) as error:
            if isinstance(error, socket.timeout | TimeoutError):
                raise _Retryable(f"no data for {timeout:g} s after {size} bytes") from None
            if isinstance(error, OSError) and error.filename == str(tmp):
                raise  # our own disk, not the network
            raise _Retryable(f"connection lost after {size} bytes ({error})") from None
    # http.client returns a short body without an error when the server hangs up
    if expected is not None and size != expected:
        raise _Retryable(f"connection closed after {size} of {expected} bytes")
    return size, digest.hexdigest()


class _Progress:
    """Logs how far a large download has come, every tenth of it."""

    def __init__(self, url: str, total: int | None, log: Callable[[str], None]):
        self.url, self.total, self.log = url, total, log
        self.next = PROGRESS_STEP
        self.started = time.monotonic()
        self.enabled = total is not None and total >= PROGRESS_MIN_BYTES

    def __call__(self, done: int) -> None:
        if not self.enabled or done < self.next * self.total:
            return
        rate = done / max(time.monotonic() - self.started, 1e-6)
        self.log(
            f"{self.url}: {done * 100 // self.total}% of {human_bytes(self.total)} "
            f"({human_bytes(rate)}/s)"
        )
        while self.next * self.total <= done:
            self.next += PROGRESS_STEP
