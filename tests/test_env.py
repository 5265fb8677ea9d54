"""Every environment variable is read and checked in one place (cnnzoo/env.py, issue #27): a malformed
value is one sentence naming the variable, never a traceback (CNNZOO_DOWNLOAD_TIMEOUT=-3) or a silent
misreading (0 seconds making sockets non-blocking, CNNZOO_OFFLINE=maybe read as "on")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnnzoo import env
from cnnzoo.cli import main
from cnnzoo.env import EnvError

BAD = [
    ("CNNZOO_DOWNLOAD_TIMEOUT", "-3", "above 0"),
    ("CNNZOO_DOWNLOAD_TIMEOUT", "0", "above 0"),
    ("CNNZOO_DOWNLOAD_TIMEOUT", "abc", "number of seconds"),
    ("CNNZOO_DOWNLOAD_TIMEOUT", "nan", "number of seconds"),
    ("CNNZOO_DOWNLOAD_TIMEOUT", "inf", "at most 86400"),
    ("CNNZOO_DOWNLOAD_TIMEOUT", "1e9", "at most 86400"),
    ("CNNZOO_OFFLINE", "maybe", "give 1 (on) or 0 (off)"),
    ("HF_HUB_OFFLINE", "2", "give 1 (on) or 0 (off)"),
    ("CNNZOO_WEIGHTS_MIRROR", "/no/such/mirror", "a folder that does not exist"),
    ("CNNZOO_WEIGHTS_MIRROR", "ftp://host/w", "http://, https:// or file://"),
    ("CNNZOO_WEIGHTS_MIRROR", "http://host:abc/w", "port is not a number"),
    ("CNNZOO_DATA_URL", "not a url", "http://, https:// or file://"),
    ("HF_ENDPOINT", "huggingface.co", "http://, https:// or file://"),
    ("WORLD_SIZE", "two", "whole number from 1"),
    ("WORLD_SIZE", "0", "whole number from 1"),
    ("RANK", "-1", "whole number from 0"),
    ("HF_TOKEN", "two words", "the token alone"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD)
def test_a_bad_value_is_one_sentence_naming_the_variable(name, value, message, monkeypatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(EnvError, match=re.escape(message)) as e:
        env.check_all()
    text = str(e.value)
    assert name in text and "\n" not in text and text.endswith(".")


@pytest.mark.parametrize(("name", "value", "message"), BAD[:8])
def test_the_cli_refuses_a_bad_environment_before_any_verb_runs(name, value, message, monkeypatch, capfd):
    monkeypatch.setenv(name, value)
    assert main(["list"]) == 2
    out, err = capfd.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and name in err and "Traceback" not in err


def test_files_where_folders_are_needed_are_refused(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "f").write_text("x")
    for name in ("CNNZOO_WEIGHTS_DIR", "CNNZOO_DATA", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / "f"))
        with pytest.raises(EnvError, match=f"{name}=.*names a file where a folder is needed"):
            env.check_all()
        monkeypatch.delenv(name)


def test_good_values_are_read_as_documented(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CNNZOO_DOWNLOAD_TIMEOUT", " 2.5 ")
    assert env.seconds("CNNZOO_DOWNLOAD_TIMEOUT", 60) == 2.5
    monkeypatch.setenv("CNNZOO_DOWNLOAD_TIMEOUT", "")  # empty means unset
    assert env.seconds("CNNZOO_DOWNLOAD_TIMEOUT", 60) == 60
    for value, on in (("1", True), ("TRUE", True), ("yes", True), ("0", False), ("off", False), ("", False)):
        monkeypatch.setenv("CNNZOO_OFFLINE", value)
        assert env.flag("CNNZOO_OFFLINE") is on
    monkeypatch.setenv("CNNZOO_WEIGHTS_MIRROR", str(tmp_path))
    assert env.location("CNNZOO_WEIGHTS_MIRROR") == str(tmp_path)
    monkeypatch.setenv("CNNZOO_WEIGHTS_MIRROR", "https://mirror.example:8443/w")
    assert env.location("CNNZOO_WEIGHTS_MIRROR") == "https://mirror.example:8443/w"
    monkeypatch.setenv("CNNZOO_DATA", str(tmp_path / "not-yet"))  # a folder to be created is fine
    assert env.folder("CNNZOO_DATA") == tmp_path / "not-yet"
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(EnvError, match="RANK=2 is not below WORLD_SIZE=2"):
        env.check_all()


def test_the_readers_of_the_weights_hub_and_named_data_use_the_one_place(monkeypatch) -> None:
    from cnnzoo.data import named
    from cnnzoo.weights import hub

    monkeypatch.setattr(hub, "_SETTINGS", hub._Settings())
    monkeypatch.setenv("CNNZOO_DOWNLOAD_TIMEOUT", "-3")
    with pytest.raises(EnvError, match="CNNZOO_DOWNLOAD_TIMEOUT"):
        hub._timeout()
    monkeypatch.setenv("CNNZOO_OFFLINE", "perhaps")
    with pytest.raises(EnvError, match="CNNZOO_OFFLINE"):
        hub.offline()
    with pytest.raises(EnvError, match="CNNZOO_OFFLINE"):
        named._offline()  # the datasets' reader agrees with the weights' (it read "perhaps" as on)
    with pytest.raises(Exception, match="timeout must be a number of seconds above 0"):
        hub.configure(timeout=0)


def test_help_lists_every_variable(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(v.name in out for v in env.VARIABLES)
