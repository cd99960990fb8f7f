"""Mosquitto 2.0 for livecomments: its files generated from Settings, and a supervised process.

One module per concern; the pure ones (no IO) are tested without a broker:

| module        | holds                                                                    | IO  |
|---------------|--------------------------------------------------------------------------|-----|
| `accounts`    | the accounts a Mosquitto broker knows, and their roles                    | no  |
| `sizing`      | `Limits`: packet size, in-flight window, queues, descriptors needed       | no  |
| `syntax`      | what may go into a Mosquitto file (one word, a path, true/false)          | no  |
| `conf`        | `BrokerConfig`, `Listener`, `CoreLink` (an edge's link to the core), `render_config` | no |
| `acl_file`    | `grants`, `render_acl`: the ACL file from the rules in `broker.acl`       | no  |
| `layout`      | file names, production paths, `MosquittoFiles`                            | no  |
| `standalone`  | one broker's config, and the production example (the root mosquitto.conf) | no  |
| `host`        | Mosquitto's programs, the current user, private files                     | yes |
| `passwd`      | broker passwords (generated once) and the hashed password file            | yes |
| `rlimit`      | raising the file-descriptor limit a child inherits                        | yes |
| `supervisor`  | `RestartPolicy`, `RestartBudget`, `SupervisedBroker` (a Service)          | yes |
| `data_dir`    | the data dir's broker: `write_files`, `MosquittoProcess`                  | yes |

The commands (`livecomments mosquitto-config`, `livecomments cluster`) are in
`wiring.broker_commands`; a core-and-edges topology is `broker.cluster`. The names below
are re-exported so callers may import them from `broker.mosquitto`.
"""

from __future__ import annotations

from broker.mosquitto.accounts import ACCOUNT_EDGE, ACCOUNT_OPERATOR, BROKER_ACCOUNTS, ROLE_EDGE, ROLE_MONITOR
from broker.mosquitto.acl_file import grants, render_acl
from broker.mosquitto.conf import WS_PATH, BrokerConfig, CoreLink, Listener, render_config
from broker.mosquitto.data_dir import MosquittoProcess, write_files
from broker.mosquitto.host import current_user, mosquitto_executable, write_private
from broker.mosquitto.layout import (
    ACL_FILE,
    CONF_FILE,
    ETC_DIR,
    LOG_FILE,
    PASSWORD_FILE,
    PRODUCTION_PERSISTENCE,
    SUBDIR,
    MosquittoFiles,
)
from broker.mosquitto.passwd import EXTRA_CREDENTIALS_FILE, broker_passwords, write_password_file
from broker.mosquitto.rlimit import raise_fd_limit
from broker.mosquitto.sizing import BRIDGE_EVENTS_PER_MESSAGE, EVENT_MAX_BYTES, Limits
from broker.mosquitto.standalone import render_production_example, single_broker_config
from broker.mosquitto.supervisor import MosquittoStartError, RestartBudget, RestartPolicy, SupervisedBroker

__all__ = [
    "ACCOUNT_EDGE", "ACCOUNT_OPERATOR", "ACL_FILE", "BRIDGE_EVENTS_PER_MESSAGE", "BROKER_ACCOUNTS", "CONF_FILE",
    "ETC_DIR", "EVENT_MAX_BYTES", "EXTRA_CREDENTIALS_FILE", "LOG_FILE", "PASSWORD_FILE", "PRODUCTION_PERSISTENCE",
    "ROLE_EDGE", "ROLE_MONITOR", "SUBDIR", "WS_PATH", "BrokerConfig", "CoreLink", "Limits", "Listener",
    "MosquittoFiles", "MosquittoProcess", "MosquittoStartError", "RestartBudget", "RestartPolicy",
    "SupervisedBroker", "broker_passwords", "current_user", "grants", "mosquitto_executable", "raise_fd_limit",
    "render_acl", "render_config", "render_production_example", "single_broker_config", "write_files",
    "write_password_file", "write_private",
]
