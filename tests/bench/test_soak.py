"""The soak's reading of Kamailio's log: its errors counted by kind, so a
failing module (the presence cleaner out of private memory) shows in the
report even when the calls still complete."""

from bench.soak import _kamailio_errors

LOG = """\
 0(6645) WARNING: tls [tls_init.c:807]: tls_h_mod_init_f(): openssl bug #1491 workaround enabled
 3(6649) CRITICAL: {1 2 ACK 13310-6669@127.0.0.1} dialog [dlg_timer.c:199]: update_dlg_timer(): \
Trying to update a bogus dlg tl=0x7f77c84265c0
 3(6649) ERROR: {1 2 ACK 13310-6669@127.0.0.1} dialog [dlg_handlers.c:1498]: dlg_onroute(): \
failed to update dialog lifetime
 5(6651) CRITICAL: {1 2 ACK 99-6669@127.0.0.1} dialog [dlg_timer.c:199]: update_dlg_timer(): \
Trying to update a bogus dlg tl=0x7f77dd69f5d8
 7(6653) ERROR: presence [hash.c:841]: ps_presentity_dup(): could not allocate private memory \
from pkg pool
 7(6653) ERROR: presence [hash.c:841]: ps_presentity_dup(): could not allocate private memory \
from pkg pool
 7(6653) ERROR: presence [hash.c:841]: ps_presentity_dup(): could not allocate private memory \
from pkg pool
 1(6646) INFO: <script>: lookup answered
"""


def test_errors_are_counted_by_kind_with_numbers_and_addresses_folded() -> None:
    errors = _kamailio_errors(LOG)
    assert errors == {
        "ERROR presence [hash.c:N]: ps_presentity_dup(): could not allocate private memory "
        "from pkg pool": 3,
        "CRITICAL dialog [dlg_timer.c:N]: update_dlg_timer(): Trying to update a bogus dlg tl=N": 2,
        "ERROR dialog [dlg_handlers.c:N]: dlg_onroute(): failed to update dialog lifetime": 1,
    }


def test_warnings_and_info_are_not_errors() -> None:
    assert not _kamailio_errors(LOG.splitlines()[0] + "\n" + LOG.splitlines()[-1] + "\n")
