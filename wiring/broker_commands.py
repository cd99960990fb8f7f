"""The operators' broker commands: `livecomments mosquitto-config` and `livecomments cluster`."""

from __future__ import annotations

import argparse

from broker.cluster import add_cluster_command
from broker.mosquitto import add_config_command


def add_broker_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_config_command(sub)
    add_cluster_command(sub)
