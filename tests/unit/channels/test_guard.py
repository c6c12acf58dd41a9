"""The guard's limits (channels/guard.py): per sender, per client IP, global;
who the client is behind a proxy; the keyed log tags; their settings."""

import pytest

from channels.guard import Guard, Refusal, client_ip, sender_tag, trusted_networks
from faq.settings import Settings


def clocked(**limits):
    now = [0.0]
    return Guard(clock=lambda: now[0], **limits), now


def test_new_sender_ids_from_one_ip_are_refused_beyond_the_ip_limit_with_a_retry_after():
    guard, now = clocked(per_ip_per_minute=60, global_per_second=0)
    answers = [guard.refusal(f"sender-{i}", "hi", client="198.51.100.7") for i in range(61)]
    assert answers[:60] == [None] * 60
    assert answers[60] == Refusal("rate_limited", retry_after_s=1)
    assert guard.refusal("sender-x", "hi", client="198.51.100.8") is None  # another IP
    now[0] += 1.0  # 60/min: one more per second
    assert guard.refusal("sender-y", "hi", client="198.51.100.7") is None


def test_the_global_limit_counts_everyone():
    guard, now = clocked(per_ip_per_minute=0, global_per_second=20)
    answers = [guard.check(f"s{i}", "hi", client=f"198.51.100.{i}") for i in range(21)]
    assert answers == [None] * 20 + ["rate_limited"]
    now[0] += 0.05
    assert guard.check("s-next", "hi") is None


def test_a_refused_sender_does_not_use_up_its_ips_budget():
    guard, _ = clocked(burst=2, per_minute=30, per_ip_per_minute=5, global_per_second=0)
    assert [guard.check("hammer", "hi", client="192.0.2.1") for _ in range(10)].count(None) == 2
    assert [guard.check(f"other-{i}", "hi", client="192.0.2.1") for i in range(4)] == [None, None, None, "rate_limited"]


def test_the_sender_wait_is_the_retry_after():
    guard, _ = clocked(burst=1, per_minute=6, global_per_second=0)  # one every 10 s
    assert guard.refusal("s", "hi") is None
    assert guard.refusal("s", "hi") == Refusal("rate_limited", retry_after_s=10)


def test_zero_switches_each_limit_off():
    guard, _ = clocked(per_minute=0, per_ip_per_minute=0, global_per_second=0)
    assert all(guard.check("s", "hi", client="192.0.2.1") is None for _ in range(1000))


def test_too_long_is_not_a_rate_refusal():
    guard, _ = clocked(max_chars=10)
    assert guard.refusal("s", "x" * 11) == Refusal("too_long", retry_after_s=0)


PROXIES = trusted_networks(["10.0.0.0/8", "192.0.2.10"])


@pytest.mark.parametrize(
    "peer, forwarded, expected",
    [
        ("203.0.113.5", None, "203.0.113.5"),
        ("203.0.113.5", "1.2.3.4", "203.0.113.5"),  # not our proxy: its header is the client's
        ("10.0.0.2", "203.0.113.9", "203.0.113.9"),  # our proxy says who called it
        ("10.0.0.2", "6.6.6.6, 203.0.113.9, 192.0.2.10", "203.0.113.9"),  # the client wrote 6.6.6.6
        ("10.0.0.2", "not-an-ip", "10.0.0.2"),
        ("10.0.0.2", "", "10.0.0.2"),
        ("2001:db8:1:2:3:4:5:6", None, "2001:db8:1:2::/64"),  # IPv6 per /64
    ],
)
def test_client_ip_believes_x_forwarded_for_only_from_trusted_proxies(peer, forwarded, expected):
    assert client_ip(peer, forwarded, PROXIES) == expected


def test_sender_tags_are_keyed():
    assert sender_tag("telegram-42", b"a") == sender_tag("telegram-42", b"a") != sender_tag("telegram-42", b"b")
    assert len(sender_tag("x\ud800")) == 10  # any id, even one that is not text


def test_limits_come_from_the_environment():
    settings = Settings.from_env(
        {
            "BOTOX_RATE_PER_IP_PER_MINUTE": "0",
            "BOTOX_RATE_GLOBAL_PER_SECOND": "5",
            "BOTOX_TRUSTED_PROXIES": "10.0.0.1, 10.1.0.0/16",
            "BOTOX_MAX_BODY_BYTES": "1024",
        }
    )
    assert (settings.rate_per_ip_per_minute, settings.rate_global_per_second) == (0, 5)
    assert settings.trusted_proxies == ("10.0.0.1", "10.1.0.0/16") and settings.max_body_bytes == 1024
    defaults = Settings.from_env({})
    assert (defaults.rate_per_ip_per_minute, defaults.rate_global_per_second, defaults.max_body_bytes) == (
        60,
        20,
        16384,
    )
    with pytest.raises(ValueError):
        Settings.from_env({"BOTOX_RATE_GLOBAL_PER_SECOND": "-1"})
