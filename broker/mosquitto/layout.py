"""Where a Mosquitto broker's files are: their names, where production keeps them, and the
set of one broker's files under a directory. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONF_FILE = "mosquitto.conf"
PASSWORD_FILE = "mosquitto.passwd"  # noqa: S105 - a file name
ACL_FILE = "mosquitto.acl"
LOG_FILE = "mosquitto.log"
SUBDIR = "mosquitto"  # under the data dir

# Where the production example expects things (`livecomments mosquitto-config --out /etc/livecomments`).
ETC_DIR = Path("/etc/livecomments")
PRODUCTION_PERSISTENCE = Path("/var/lib/livecomments/mosquitto")
PRODUCTION_LOG = Path("/var/log/livecomments/mosquitto.log")


@dataclass(frozen=True)
class MosquittoFiles:
    directory: Path
    conf: Path
    passwd: Path
    acl: Path
    log: Path
    persistence: Path

    @classmethod
    def under(cls, directory: Path) -> MosquittoFiles:
        directory = directory.resolve()
        return cls(
            directory, directory / CONF_FILE, directory / PASSWORD_FILE, directory / ACL_FILE,
            directory / LOG_FILE, directory / "db",
        )

    @classmethod
    def production(cls) -> MosquittoFiles:
        """Where the production example names them: /etc/livecomments, /var/lib and /var/log/livecomments."""
        return cls(ETC_DIR, ETC_DIR / CONF_FILE, ETC_DIR / PASSWORD_FILE, ETC_DIR / ACL_FILE, PRODUCTION_LOG,
                   PRODUCTION_PERSISTENCE)
