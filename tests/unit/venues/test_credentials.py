"""Venue credentials from the environment or a private file outside the repository, secrets that
never print, and masking of secret FIX fields wherever messages are written down."""

from __future__ import annotations

from pathlib import Path

import pytest

from xmc_fix.errors import ConfigError, CredentialsError
from xmc_fix.venues.credentials import (Credentials, Secret, env_prefix, load_credentials, mask_fix, mask_fix_bytes,
                                        scrub_store_file)

SOH = "\x01"
PASSWORD = "hunter2-Sup3rSecret"


# -- stub factories ----------------------------------------------------------------------------
@pytest.fixture
def repo(tmp_path) -> Path:
    """A working tree (has ``.git``) that credentials must stay out of."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def write_credentials(folder: Path, text: str | None = None, *, mode: int = 0o600,
                      name: str = "credentials.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text if text is not None else
                    f'[SHFE]\nusername = "trader"\npassword = "{PASSWORD}"\n\n[LME]\nusername = "lme-user"\n',
                    encoding="utf-8")
    path.chmod(mode)
    return path


def load(venues=("SHFE", "LME"), *, repo: Path, **kwargs) -> dict[str, Credentials]:
    kwargs.setdefault("environ", {})
    return load_credentials(venues, forbidden_roots=[repo], **kwargs)


def refused(*, repo: Path, **kwargs) -> CredentialsError:
    with pytest.raises(CredentialsError) as e:
        load(repo=repo, **kwargs)
    return e.value


# -- environment -------------------------------------------------------------------------------
def test_credentials_come_from_the_venues_environment_variables(repo):
    env = {"XMC_SHFE_USERNAME": "trader", "XMC_SHFE_PASSWORD": PASSWORD, "XMC_LME_USERNAME": "lme-user"}

    creds = load(environ=env, repo=repo)

    assert creds["SHFE"] == Credentials("trader", Secret(PASSWORD))
    assert creds["SHFE"].password.reveal() == PASSWORD
    assert creds["LME"] == Credentials("lme-user", None)


def test_venue_without_credentials_gets_none_for_both():
    assert load_credentials(["COMEX"], environ={}) == {"COMEX": Credentials(None, None)}


def test_empty_environment_variables_count_as_unset():
    creds = load_credentials(["SHFE"], environ={"XMC_SHFE_USERNAME": "", "XMC_SHFE_PASSWORD": ""})

    assert creds["SHFE"] == Credentials(None, None)


@pytest.mark.parametrize("venue, prefix", [("SHFE", "XMC_SHFE"), ("lme", "XMC_LME"), ("USD/CNH", "XMC_USD_CNH"),
                                           ("cme-comex.2", "XMC_CME_COMEX_2")])
def test_environment_prefix_is_the_venue_in_upper_case_with_other_characters_as_underscores(venue, prefix):
    assert env_prefix(venue) == prefix


def test_process_environment_is_read_when_none_is_given(monkeypatch):
    monkeypatch.setenv("XMC_SHFE_PASSWORD", PASSWORD)

    assert load_credentials(["SHFE"])["SHFE"].password == Secret(PASSWORD)


# -- credentials file --------------------------------------------------------------------------
def test_private_file_outside_the_repository_is_read(tmp_path, repo):
    path = write_credentials(tmp_path / "home")

    creds = load(file=path, repo=repo)

    assert creds["SHFE"] == Credentials("trader", Secret(PASSWORD))
    assert creds["LME"] == Credentials("lme-user", None)


def test_environment_overrides_the_file(tmp_path, repo):
    path = write_credentials(tmp_path / "home")

    creds = load(file=path, environ={"XMC_SHFE_PASSWORD": "from-env"}, repo=repo)

    assert creds["SHFE"] == Credentials("trader", Secret("from-env"))


def test_file_inside_the_repository_is_refused(repo):
    path = write_credentials(repo / "config")

    e = refused(file=path, repo=repo)

    assert e.file == str(path) and "inside the repository" in e.problem
    assert "outside the working tree" in e.remedy


def test_link_from_outside_to_a_file_inside_the_repository_is_refused(tmp_path, repo):
    target = write_credentials(repo / "config")
    link = tmp_path / "home" / "credentials.toml"
    link.parent.mkdir()
    link.symlink_to(target)

    assert "inside the repository" in refused(file=link, repo=repo).problem


def test_repository_of_the_working_directory_is_forbidden_by_default(repo, monkeypatch):
    path = write_credentials(repo / "config")
    monkeypatch.chdir(repo / "config")

    with pytest.raises(CredentialsError) as e:
        load_credentials(["SHFE"], file=path, environ={})

    assert "inside the repository" in e.value.problem


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o601])
def test_file_others_can_access_is_refused(tmp_path, repo, mode):
    path = write_credentials(tmp_path / "home", mode=mode)

    e = refused(file=path, repo=repo)

    assert e.problem == f"readable by others (mode {mode:o})"
    assert e.remedy == f"chmod 600 {path}"


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_file_only_its_owner_can_read_is_accepted(tmp_path, repo, mode):
    path = write_credentials(tmp_path / "home", mode=mode)

    assert load(file=path, repo=repo)["SHFE"].username == "trader"


def test_missing_file_is_refused(tmp_path, repo):
    e = refused(file=tmp_path / "nope.toml", repo=repo)

    assert e.problem == "file not found"


def test_bad_toml_is_refused_without_quoting_the_password(tmp_path, repo):
    path = write_credentials(tmp_path / "home", f'[SHFE]\npassword = "{PASSWORD}\n')

    e = refused(file=path, repo=repo)

    assert e.problem == "not valid TOML"
    assert PASSWORD not in e.line() and e.__cause__ is None


@pytest.mark.parametrize("text, key", [
    ('SHFE = "trader"\n', "SHFE"),
    (f'[SHFE]\nusername = "trader"\npasword = "{PASSWORD}"\n', "SHFE.pasword"),
])
def test_unexpected_shape_is_refused_naming_the_key(tmp_path, repo, text, key):
    path = write_credentials(tmp_path / "home", text)

    e = refused(file=path, repo=repo)

    assert (e.file, e.key) == (str(path), key)
    assert PASSWORD not in e.line()


def test_credentials_errors_are_configuration_errors():
    assert issubclass(CredentialsError, ConfigError)


# -- secrets never print -----------------------------------------------------------------------
def test_secret_never_shows_its_value():
    s = Secret(PASSWORD)
    shown = [str(s), repr(s), f"{s}", "%s %r" % (s, s), format(s), repr(Credentials("trader", s)),
             str([s]), str({"pw": s})]

    assert all(PASSWORD not in text for text in shown)
    assert str(s) == "Secret('***')"


def test_secrets_compare_and_hash_by_value():
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert len({Secret("a"), Secret("a"), Secret("b")}) == 2


# -- masking -------------------------------------------------------------------------------------
LOGON = (f"8=FIX.4.4{SOH}9=99{SOH}35=A{SOH}34=1{SOH}49=XMC{SOH}56=SHFE{SOH}98=0{SOH}108=10{SOH}553=trader{SOH}"
         f"554={PASSWORD}{SOH}925=new-{PASSWORD}{SOH}95=5{SOH}96=tok{PASSWORD}{SOH}10=123{SOH}")
LOGON_MASKED = (f"8=FIX.4.4{SOH}9=99{SOH}35=A{SOH}34=1{SOH}49=XMC{SOH}56=SHFE{SOH}98=0{SOH}108=10{SOH}"
                f"553=trader{SOH}554=***{SOH}925=***{SOH}95=5{SOH}96=***{SOH}10=123{SOH}")


def test_mask_fix_replaces_password_new_password_and_raw_data_only():
    assert mask_fix(LOGON) == LOGON_MASKED


@pytest.mark.parametrize("raw, masked", [
    (f"554={PASSWORD}{SOH}58=x{SOH}", f"554=***{SOH}58=x{SOH}"),       # first field
    (f"58=x{SOH}554={PASSWORD}", f"58=x{SOH}554=***"),                 # last field, no trailing SOH
    (f"554={SOH}", f"554=***{SOH}"),                                   # empty value
    (f"5540=a{SOH}1554=b{SOH}9250=c{SOH}196=d{SOH}", f"5540=a{SOH}1554=b{SOH}9250=c{SOH}196=d{SOH}"),
    (f"58=554=not-a-field{SOH}", f"58=554=not-a-field{SOH}"),
])
def test_mask_fix_matches_whole_tags_only(raw, masked):
    assert mask_fix(raw) == masked


def test_masking_twice_changes_nothing_more():
    assert mask_fix(mask_fix(LOGON)) == LOGON_MASKED


def test_mask_fix_bytes_agrees_with_mask_fix_and_keeps_other_bytes_exact():
    raw = LOGON.encode() + b"58=caf\xe9\xff" + SOH.encode()

    assert mask_fix_bytes(raw) == LOGON_MASKED.encode() + b"58=caf\xe9\xff" + SOH.encode()


def test_store_scrub_overwrites_secret_values_keeping_the_file_length(tmp_path):
    body = tmp_path / "FIX.4.4-XMC-SHFE.body"
    data = (LOGON + LOGON.replace(PASSWORD, "other-pw")).encode()
    body.write_bytes(data)

    assert scrub_store_file(body) == 6
    scrubbed = body.read_bytes()
    assert len(scrubbed) == len(data)
    assert PASSWORD.encode() not in scrubbed and b"other-pw" not in scrubbed
    assert b"554=" + b"*" * len(PASSWORD) + SOH.encode() in scrubbed
    assert b"553=trader" in scrubbed
    assert scrub_store_file(body) == 0


def test_store_scrub_of_a_missing_or_empty_file_does_nothing(tmp_path):
    (tmp_path / "empty.body").write_bytes(b"")

    assert scrub_store_file(tmp_path / "empty.body") == 0
    assert scrub_store_file(tmp_path / "missing.body") == 0


def test_store_scrub_keeps_every_stored_message_valid_for_a_quickfix_resend(tmp_path):
    """QuickFIX parses stored messages again (checksum included) to answer a ResendRequest; a
    scrubbed Logon with a stale CheckSum made it abandon the whole resend."""
    import quickfix as fix
    import simplefix

    from xmc_fix.sim.faultproxy import split_frames

    def logon(seq: int, password: str) -> bytes:
        m = simplefix.FixMessage()
        for tag, value in ((8, "FIX.4.4"), (35, "A"), (34, seq), (49, "XMC"), (56, "SHFE"),
                           (52, "20260102-03:04:05.000006"), (98, 0), (108, 10), (553, "trader"), (554, password)):
            m.append_pair(tag, value)
        return m.encode()

    body = tmp_path / "FIX.4.4-XMC-SHFE.body"
    data = logon(1, PASSWORD) + logon(6, "x" * 7)
    body.write_bytes(data)

    assert scrub_store_file(body) == 2
    scrubbed = body.read_bytes()
    assert len(scrubbed) == len(data)
    frames, rest = split_frames(scrubbed)
    assert len(frames) == 2 and rest == b""
    for frame in frames:
        fix.Message(frame.decode(), True)   # checks BodyLength and CheckSum: InvalidMessage if stale


def test_a_tail_scrub_overwrites_the_message_just_appended_with_a_valid_checksum(tmp_path):
    import quickfix as fix
    import simplefix

    def logon(seq: int, password: str) -> bytes:
        m = simplefix.FixMessage()
        for tag, value in ((8, "FIX.4.4"), (35, "A"), (34, seq), (49, "XMC"), (56, "SHFE"),
                           (52, "20260102-03:04:05.000006"), (98, 0), (108, 10), (553, "trader"), (554, password)):
            m.append_pair(tag, value)
        return m.encode()

    body = tmp_path / "FIX.4.4-XMC-SHFE.body"
    first, last = logon(1, "older-pw"), logon(2, PASSWORD)
    body.write_bytes(first + last)

    assert scrub_store_file(body, tail=len(last)) == 1
    scrubbed = body.read_bytes()
    assert scrubbed.startswith(first)                      # only the message at the tail was searched
    kept = scrubbed[len(first):]
    assert PASSWORD.encode() not in kept and len(kept) == len(last)
    fix.Message(kept.decode(), True)                       # QuickFIX accepts it, CheckSum included
    # a tail reaching into the message before takes all of that one too, its CheckSum restamped
    body.write_bytes(first + last)
    assert scrub_store_file(body, tail=len(last) + 10) == 2
    for frame in (body.read_bytes()[:len(first)], body.read_bytes()[len(first):]):
        fix.Message(frame.decode(), True)
