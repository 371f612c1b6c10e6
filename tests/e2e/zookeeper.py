"""A local ZooKeeper ensemble for end-to-end tests, run by scripts/zk-ensemble.sh.

    zk = ZkEnsemble(tmp_dir, n=3)   # base_port="auto": a free range in 20000..31999
    zk.start()                      # returns once every node serves (has a leader)
    zk.url("/mesos")                # "zk://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/mesos"
    zk.kill(2); zk.restart(2)       # SIGKILL / restart one node (1-based)
    zk.stop()

`ZkEnsemble.missing()` says why ZooKeeper cannot run here (None when it can).
"""

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "zk-ensemble.sh"
ZK_JAR = Path("/usr/share/java/zookeeper.jar")


class ZkEnsemble:
    """`n` ZooKeeper servers on 127.0.0.1 (n=1: standalone), state under `base_dir`."""

    def __init__(self, base_dir, n=3, base_port="auto", start_timeout=60):
        self.dir = Path(base_dir)
        self.n = n
        self.base_port = base_port
        self.start_timeout = start_timeout
        self.connect_string = None

    @staticmethod
    def missing():
        """Why ZooKeeper cannot run on this machine, or None."""
        if not shutil.which("java"):
            return "java is not installed (apt-get install -y zookeeper default-jre-headless)"
        if not ZK_JAR.exists():
            return f"{ZK_JAR} not found (apt-get install -y zookeeper)"
        return None

    def _run(self, *args, timeout=None):
        out = subprocess.run(
            ["bash", str(SCRIPT), args[0], str(self.dir), *map(str, args[1:])],
            capture_output=True, text=True, timeout=timeout or self.start_timeout + 30,
            env={**os.environ, "ZK_START_TIMEOUT": str(self.start_timeout)})
        if out.returncode != 0:
            raise RuntimeError(f"zk-ensemble.sh {' '.join(map(str, args))} failed:\n"
                               f"{out.stderr[-3000:]}")
        return out.stdout

    def start(self):
        """Start every node; returns the connect string once the ensemble serves."""
        out = self._run("start", self.n, self.base_port)
        self.connect_string = out.strip().splitlines()[-1]
        return self.connect_string

    def stop(self):
        """Stop every node (SIGTERM, then SIGKILL). Safe to call twice."""
        if self.dir.joinpath("ensemble.env").exists():
            self._run("stop")

    def kill(self, node):
        """SIGKILL node `node` (1-based)."""
        self._run("kill", node)

    def stop_node(self, node):
        """SIGTERM node `node` (1-based)."""
        self._run("stop-node", node)

    def restart(self, node):
        """(Re)start node `node` and wait until it serves."""
        self._run("restart", node)

    def status(self):
        """{node: "leader" | "follower" | "standalone" | "down"}."""
        modes = {}
        for line in self._run("status").splitlines():
            name, _addr, mode = (line.split() + ["down"])[:3]
            modes[int(name.removeprefix("node"))] = mode
        return modes

    def leader(self):
        """The node number of the current leader (or the standalone node), or None."""
        for node, mode in self.status().items():
            if mode in ("leader", "standalone"):
                return node
        return None

    def url(self, path="/"):
        """`zk://host:port,.../path` for Mesos's --zk / --master flags."""
        if self.connect_string is None:
            raise RuntimeError("ZkEnsemble.url() before start()")
        return f"zk://{self.connect_string}/{path.strip('/')}"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
