"""Downloads against real HTTP servers on loopback: retries, checksums, atomic writes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from servers import FileServer
from snakeyard.data.download import ChecksumError, DownloadError, DownloadOptions, download
from snakeyard.errors import SnakeyardError

BODY = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(BODY).hexdigest()
FAST = DownloadOptions(timeout=5, retries=3, backoff=0.01)


@pytest.fixture
def server():
    with FileServer() as running:
        yield running


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_writes_the_file_and_reports_its_size(server: FileServer, tmp_path: Path):
    server.files["/data.bin"] = BODY
    lines: list[str] = []
    size = download(server.url("/data.bin"), tmp_path / "data.bin", SHA, FAST, lines.append)
    assert size == len(BODY) and (tmp_path / "data.bin").read_bytes() == BODY
    assert leftovers(tmp_path) == ["data.bin"] and lines == []


def test_connection_dropped_mid_file_is_retried(server: FileServer, tmp_path: Path):
    server.files["/drop.bin"] = BODY
    server.behaviour["/drop.bin"] = "drop"
    server.fail_times["/drop.bin"] = 2
    lines: list[str] = []
    download(server.url("/drop.bin"), tmp_path / "drop.bin", SHA, FAST, lines.append)
    assert (tmp_path / "drop.bin").read_bytes() == BODY
    assert server.requests["/drop.bin"] == 3
    assert "connection closed after 524288 of 1048576 bytes; attempt 2 of 4" in lines[0]


def test_a_server_that_always_drops_leaves_nothing(server: FileServer, tmp_path: Path):
    server.files["/drop.bin"] = BODY
    server.behaviour["/drop.bin"] = "drop"
    server.fail_times["/drop.bin"] = 99
    options = DownloadOptions(timeout=5, retries=2, backoff=0.01)
    with pytest.raises(
        DownloadError,
        match=r"drop.bin: connection closed after 524288 of 1048576 bytes \(gave up after 3 attempts\)",
    ):
        download(server.url("/drop.bin"), tmp_path / "drop.bin", SHA, options, lambda _: None)
    assert leftovers(tmp_path) == [] and server.requests["/drop.bin"] == 3


def test_503_twice_then_success(server: FileServer, tmp_path: Path):
    server.files["/busy.bin"] = BODY
    server.behaviour["/busy.bin"] = "503"
    server.fail_times["/busy.bin"] = 2
    lines: list[str] = []
    download(server.url("/busy.bin"), tmp_path / "busy.bin", SHA, FAST, lines.append)
    assert (tmp_path / "busy.bin").read_bytes() == BODY and server.requests["/busy.bin"] == 3
    assert [line.split(": ", 1)[1] for line in lines] == [
        "HTTP 503 Service Unavailable; attempt 2 of 4 in 0.01 s",
        "HTTP 503 Service Unavailable; attempt 3 of 4 in 0.02 s",
    ]


def test_wrong_bytes_are_a_checksum_error_and_never_visible(server: FileServer, tmp_path: Path):
    server.files["/wrong.bin"] = b"not what you asked for"
    (tmp_path / "wrong.bin").write_bytes(b"previous content")
    url = server.url("/wrong.bin")
    actual = hashlib.sha256(b"not what you asked for").hexdigest()
    with pytest.raises(ChecksumError) as raised:
        download(url, tmp_path / "wrong.bin", SHA, FAST, lambda _: None)
    assert str(raised.value) == (
        f"checksum mismatch for {url}: expected sha256 {SHA}, got {actual} (22 B downloaded)"
    )
    assert leftovers(tmp_path) == ["wrong.bin"]
    assert (tmp_path / "wrong.bin").read_bytes() == b"previous content"
    assert server.requests["/wrong.bin"] == 1  # wrong bytes are not a network problem


def test_not_found_fails_at_once(server: FileServer, tmp_path: Path):
    with pytest.raises(
        DownloadError, match=r"cannot download http://127.0.0.1:\d+/nope.gz: HTTP 404 Not Found$"
    ):
        download(server.url("/nope.gz"), tmp_path / "nope.gz", SHA, FAST, lambda _: None)
    assert server.requests["/nope.gz"] == 1 and leftovers(tmp_path) == []


def test_a_stalled_server_times_out(server: FileServer, tmp_path: Path):
    server.files["/stall.bin"] = BODY
    server.behaviour["/stall.bin"] = "stall"
    options = DownloadOptions(timeout=0.3, retries=1, backoff=0.01)
    with pytest.raises(
        DownloadError, match=r"no data for 0.3 s after 0 bytes \(gave up after 2 attempts\)"
    ):
        download(server.url("/stall.bin"), tmp_path / "stall.bin", SHA, options, lambda _: None)
    assert leftovers(tmp_path) == []


def test_refused_connection_is_retried_then_named(tmp_path: Path):
    from servers import free_port

    url = f"http://127.0.0.1:{free_port()}/x.bin"
    lines: list[str] = []
    options = DownloadOptions(timeout=1, retries=1, backoff=0.01)
    with pytest.raises(
        DownloadError,
        match=r"cannot download .*/x.bin: connection failed \(.*refused.*\) \(gave up after 2 attempts\)",
    ):
        download(url, tmp_path / "x.bin", SHA, options, lines.append)
    assert len(lines) == 1


def test_file_urls_and_the_unchecked_opt_out(tmp_path: Path):
    (tmp_path / "src.bin").write_bytes(BODY)
    url = (tmp_path / "src.bin").as_uri()
    download(url, tmp_path / "out" / "a.bin", SHA, FAST, lambda _: None)
    assert (tmp_path / "out" / "a.bin").read_bytes() == BODY
    lines: list[str] = []
    download(url, tmp_path / "out" / "b.bin", "unchecked", FAST, lines.append)
    assert lines == [f"warning: {url} was not checked (sha256: unchecked); its sha256 is {SHA}"]
    with pytest.raises(DownloadError, match="No such file"):
        download(url + ".missing", tmp_path / "out" / "c.bin", SHA, FAST, lambda _: None)


def test_progress_is_reported_for_large_files(server: FileServer, tmp_path: Path):
    server.files["/big.bin"] = BODY * 10  # 10 MiB
    lines: list[str] = []
    sha = hashlib.sha256(BODY * 10).hexdigest()
    download(server.url("/big.bin"), tmp_path / "big.bin", sha, FAST, lines.append)
    assert [line.split(": ")[1].split(" (")[0] for line in lines][-1] == "100% of 10.0 MiB"
    assert 5 <= len(lines) <= 10


@pytest.mark.parametrize(
    ("url", "sha", "message"),
    [
        ("ftp://host/x", SHA, "unsupported URL 'ftp://host/x': use http://, https:// or file://"),
        (
            "http://host/x",
            "abc",
            "invalid sha256 'abc' for http://host/x: use 64 hexadecimal digits",
        ),
    ],
)
def test_bad_urls_and_hashes_are_named(tmp_path: Path, url: str, sha: str, message: str):
    with pytest.raises(SnakeyardError, match=message.replace("(", r"\(").replace(")", r"\)")):
        download(url, tmp_path / "x", sha, FAST, lambda _: None)
