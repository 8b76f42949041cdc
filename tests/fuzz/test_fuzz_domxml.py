"""daemon/openvzd/domxml.py, through its public entry points: parse_domain and
device_args return a value or raise VzError(BAD_ARGUMENT) with a message; what
parse_domain accepts formats back into XML it accepts again, and every value it
accepts is safe on a vzctl command line.
What they found is kept below as the test_found_* regressions."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from lxml import etree
from openvzd.domxml import device_args, format_domain, parse_domain
from openvzd.tour import EXAMPLE_XML
from openvzd.vz.errors import ErrorKind, VzError
from openvzd.vz.plan import plan_define
from openvzd.vz.spec import ContainerSpec, Interface

from tests.fuzz.profiles import fuzz, no_hang
from tests.fuzz.strategies import FRAGMENT, HOSTILE_WORDS, HUGE_NUMBER, mutated

BRIDGED = EXAMPLE_XML.replace(
    "</devices>",
    "  <interface type='bridge'><mac address='00:18:51:aa:bb:cc'/>"
    "<source bridge='br0'/><guest dev='eth0'/></interface>\n  </devices>",
)
DEVICES = [
    "<interface type='ethernet'><ip address='10.0.150.2' prefix='24'/></interface>",
    "<interface type='bridge'><mac address='00:18:51:aa:bb:cc'/><source bridge='br0'/></interface>",
    "<interface type='bridge'><guest dev='eth0'/></interface>",
]
CURRENT = ContainerSpec(
    veid=150,
    ip_addresses=["10.0.150.1/24"],
    interfaces=[Interface("eth0", "00:18:51:AA:BB:CC", "veth150.0", "00:18:51:11:22:33", "br0")],
)
# What may not reach a vzctl argument: a NUL ends it early in C and a line break
# would split the config line vzctl writes it to. (Tabs or DEL in a description
# are the user's business.)
_SAFE_ARG = re.compile(r"[^\x00\n\r]*\Z")


def check_domain(xml: str) -> None:
    with no_hang():
        try:
            spec = parse_domain(xml)
        except VzError as refusal:
            assert refusal.kind is ErrorKind.BAD_ARGUMENT, refusal.message
            assert refusal.message.strip()
            return
        again = parse_domain(format_domain(spec))
        format_domain(spec, running=True, domain_id=spec.veid)
    assert again.veid == spec.veid and again.ostemplate == spec.ostemplate
    for step in plan_define(spec, vswap=True):
        for arg in step.args:
            assert _SAFE_ARG.match(arg), step.args
    for interface in spec.interfaces:
        assert re.fullmatch(r"eth[0-9]{1,4}", interface.guest_dev), interface


def check_device(xml: str, attach: bool) -> None:
    with no_hang():
        try:
            args = device_args(xml, CURRENT, attach=attach)
        except VzError as refusal:
            assert refusal.kind is ErrorKind.BAD_ARGUMENT, refusal.message
            assert refusal.message.strip()
            return
    assert all(_SAFE_ARG.match(arg) for arg in args), args
    for option, value in zip(args[::2], args[1::2], strict=True):
        assert option.startswith("--") and not value.startswith("-"), args


@st.composite
def xml_with_random_parts(draw: st.DrawFn, seed: str) -> str:
    """seed with random elements, attributes and text put into random places."""
    root = etree.fromstring(seed.encode())
    names = st.one_of(
        st.sampled_from(
            [
                "name",
                "uuid",
                "memory",
                "vcpu",
                "os",
                "devices",
                "interface",
                "ip",
                "mac",
                "source",
                "guest",
                "filesystem",
                "target",
                "space_hard_limit",
                "memtune",
                "hard_limit",
                "cputune",
                "shares",
                "clock",
                "on_crash",
                "type",
                "init",
                "dev",
                "address",
                "bridge",
                "prefix",
                "unit",
                "offset",
            ]
        ),
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,10}", fullmatch=True),
    )
    values = st.one_of(FRAGMENT, HOSTILE_WORDS).map(
        lambda v: re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", v)
    )
    for _ in range(draw(st.integers(1, 5))):
        elements = list(root.iter())
        target = elements[draw(st.integers(0, len(elements) - 1))]
        edit = draw(st.sampled_from(["child", "attribute", "value", "text", "remove"]))
        if edit == "value" and target.attrib:
            target.set(draw(st.sampled_from(sorted(target.attrib))), draw(values))
        elif edit == "child":
            etree.SubElement(target, draw(names)).text = draw(values)
        elif edit == "attribute":
            target.set(draw(names), draw(values))
        elif edit == "text":
            target.text = draw(values)
        elif target is not root:
            target.getparent().remove(target)
    return etree.tostring(root, encoding="unicode")


@fuzz()
@given(st.sampled_from([EXAMPLE_XML, BRIDGED]).flatmap(xml_with_random_parts))
@example(BRIDGED.replace("<vcpu>1</vcpu>", "<vcpu>4096</vcpu>"))
@example(EXAMPLE_XML.replace("a first container", "\x7f\t"))  # found by the soak profile
def test_domains_with_random_elements_and_attributes(xml: str) -> None:
    check_domain(xml)


@fuzz()
@given(st.sampled_from([EXAMPLE_XML, BRIDGED]).flatmap(lambda seed: mutated(seed, 6)))
@example(EXAMPLE_XML.replace("<name>150</name>", "<name>0</name>"))
@example("<!DOCTYPE d [<!ENTITY e 'x'>]>" + EXAMPLE_XML)
def test_mutated_domains(xml: str) -> None:
    check_domain(xml)


@fuzz()
@given(st.text(max_size=400))
@example("")
@example("<domain type='openvz'/>")
def test_any_text_as_domain(xml: str) -> None:
    check_domain(xml)


@fuzz()
@given(st.sampled_from(DEVICES).flatmap(xml_with_random_parts), st.booleans())
def test_devices_with_random_elements_and_attributes(xml: str, attach: bool) -> None:
    check_device(xml, attach)


@fuzz()
@given(st.sampled_from(DEVICES).flatmap(mutated), st.booleans())
def test_mutated_devices(xml: str, attach: bool) -> None:
    check_device(xml, attach)


# Found: '²' and 5,000-digit numbers passed str.isdigit() and int() refused them.
@pytest.mark.parametrize(
    "xml",
    [
        EXAMPLE_XML.replace("<name>150</name>", "<name>\u00b2</name>"),
        EXAMPLE_XML.replace("<name>150</name>", f"<name>{HUGE_NUMBER}</name>"),
        EXAMPLE_XML.replace(">512<", ">\u00b2<"),
        EXAMPLE_XML.replace(">512<", f">{HUGE_NUMBER}<"),
        EXAMPLE_XML.replace("<vcpu>1</vcpu>", "<vcpu>\u00b2</vcpu>"),
        EXAMPLE_XML.replace(
            "<vcpu>1</vcpu>", "<vcpu>1</vcpu><cputune><shares>\u00b2</shares></cputune>"
        ),
    ],
    ids=["name", "name-huge", "memory", "memory-huge", "vcpu", "shares"],
)
def test_found_numbers_domxml_cannot_read(xml: str) -> None:
    check_domain(xml)


# Found: <guest dev> reached vzctl's --netif_add unchecked, so a comma added fields.
@pytest.mark.parametrize("dev", ["eth0,00:11:22:33:44:55,x", "eth0 --save", "x" * 300])
def test_found_guest_devices_domxml_does_not_check(dev: str) -> None:
    check_domain(BRIDGED.replace("<guest dev='eth0'/>", f"<guest dev='{dev}'/>"))
