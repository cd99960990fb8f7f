"""Every account a Mosquitto broker knows, and its role: the services' (from
`infra.credentials`) and two only Mosquitto has (the embedded broker needs neither)."""

from __future__ import annotations

from collections.abc import Mapping

from infra.credentials import SERVICE_ACCOUNTS

ACCOUNT_EDGE = "bridge-edge"  # an edge broker's link to the core
ACCOUNT_OPERATOR = "operator"  # monitoring: `livecomments cluster status`
ROLE_EDGE = "edge"
ROLE_MONITOR = "monitor"
BROKER_ACCOUNTS: Mapping[str, str] = {**SERVICE_ACCOUNTS, ACCOUNT_EDGE: ROLE_EDGE, ACCOUNT_OPERATOR: ROLE_MONITOR}
