"""Writers on several clients of one network filesystem, as cluster nodes sharing a registry.

Two sshfs mounts of one folder, served by an sshd on loopback, stand for two machines:
each mount is its own FUSE client with its own attribute and directory caches, and
every rename goes over the SFTP protocol to the server.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from snakeyard.registry.registry import Registry

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
NEEDS = "needs sshd, sshfs and /dev/fuse (apt-get install openssh-server sshfs)"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"sshd did not listen on port {port}")


@pytest.fixture(scope="module")
def two_clients(tmp_path_factory):
    """A shared folder and two sshfs mounts of it; yields (folder, [mount_a, mount_b])."""
    if not (Path(SSHD).exists() and shutil.which("sshfs") and os.access("/dev/fuse", os.W_OK)):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{NEEDS}; .ci/run installs them, so CI must not skip this proof")
        pytest.skip(NEEDS)
    base = tmp_path_factory.mktemp("sharedfs")
    share, keys = base / "share", base / "keys"
    share.mkdir()
    keys.mkdir()
    for key in ("host", "client"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / key)], check=True
        )
    (keys / "authorized_keys").write_bytes((keys / "client.pub").read_bytes())
    port = _free_port()
    config = base / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {keys / 'host'}\n"
        f"AuthorizedKeysFile {keys / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nStrictModes no\nSubsystem sftp internal-sftp\n"
        f"PidFile {base / 'sshd.pid'}\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
    server = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(base / "sshd.log")])
    mounts = []
    try:
        _wait_for_port(port, time.monotonic() + 20)
        for name in ("machine-a", "machine-b"):
            mount = base / name
            mount.mkdir()
            subprocess.run(
                ["sshfs", "-p", str(port), "-o",
                 f"IdentityFile={keys / 'client'},StrictHostKeyChecking=no,"
                 "UserKnownHostsFile=/dev/null,BatchMode=yes",
                 f"{os.environ.get('USER', 'root')}@127.0.0.1:{share}", str(mount)],
                check=True, timeout=30,
            )  # fmt: skip
            mounts.append(mount)
        yield share, mounts
    finally:
        for mount in mounts:
            subprocess.run(["fusermount", "-u", str(mount)], check=False)
        server.terminate()
        server.wait(timeout=10)


def _register_from(root: str, source_dir: str, index: int, barrier) -> int:
    source = Path(source_dir) / f"model-{index}.pkl"
    source.write_text(f"model {index} from {root}")
    barrier.wait()
    return Registry(root).register_model("shared", source, run_id=f"run-{index}")["version"]


def test_writers_on_two_machines_get_distinct_versions(two_clients, tmp_path: Path):
    share, mounts = two_clients
    roots = [str(mounts[i % 2] / "registry") for i in range(16)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(16)
    with context.Pool(16) as pool:
        versions = pool.starmap(
            _register_from, [(roots[i], str(tmp_path), i, barrier) for i in range(16)]
        )
    assert sorted(versions) == list(range(1, 17))
    # read back on the server's side of the share, and through the other client
    for root in (share / "registry", mounts[1] / "registry"):
        registry = Registry(root)
        metas = registry.model_versions("shared")
        assert [m["version"] for m in metas] == list(range(1, 17))
        assert sorted(m["run_id"] for m in metas) == sorted(f"run-{i}" for i in range(16))
        assert all(not problems for _label, problems in registry.verify())
    assert not any((share / "registry" / ".tmp").iterdir())


def _move_alias_from(root: str, index: int, barrier) -> None:
    registry = Registry(root)
    barrier.wait()
    registry.set_alias("moved", index + 1, "production")
    registry.tag_model("moved", 1, {f"writer{index}": root})


def test_alias_moves_and_tag_edits_on_two_machines_are_all_kept(two_clients, tmp_path: Path):
    share, mounts = two_clients
    registry = Registry(share / "registry")
    for index in range(16):
        source = tmp_path / f"moved-{index}.pkl"
        source.write_text(f"version {index + 1}")
        registry.register_model("moved", source)
    roots = [str(mounts[i % 2] / "registry") for i in range(16)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(16)
    with context.Pool(16) as pool:
        pool.starmap(_move_alias_from, [(roots[i], i, barrier) for i in range(16)])
    for root in (share / "registry", mounts[1] / "registry"):
        registry = Registry(root)
        events = registry.history("model", "moved")
        moves = [e for e in events if e["action"] == "alias"]
        assert sorted(e["to"] for e in moves) == list(range(1, 17))
        assert [e["from"] for e in moves] == [None] + [e["to"] for e in moves[:-1]]
        assert registry.get_model("moved@production")["version"] == moves[-1]["to"]
        tags = registry.get_model("moved", 1)["tags"]
        assert tags == {f"writer{i}": roots[i] for i in range(16)}  # no edit lost
        assert all(not problems for _label, problems in registry.verify())
