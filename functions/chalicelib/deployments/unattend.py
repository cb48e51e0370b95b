r"""Windows Setup answer file (Autounattend.xml), built with an XML library and checked against our own
schema of the unattend envelope and of the settings we emit (UNATTEND below, an XSD-like grammar).

Passes: windowsPE (setup language, a UEFI/GPT disk layout on disk 0, the edition's image, the EULA),
specialize (computer name, time zone), oobeSystem (locale, the Administrator password, OOBE
skipped, one automatic logon whose first command writes `FLEETVISOR-FIRST-BOOT done` to COM1, the
serial console the agent watches). The edition is chosen by image index, which is the same on the
evaluation and retail media (1 Standard Core, 2 Standard Desktop, 3 Datacenter Core, 4 Datacenter
Desktop). The password goes in as a sealed placeholder (sealing.py), XML-escaped when unsealed.

Drivers (a profile's `driver_media`, such as the virtio-win ISO, given at deployment): windowsPE also
gets `Microsoft-Windows-PnpCustomizationsWinPE` with one `DriverPaths/PathAndCredentials` (a numbered
`wcm:keyValue`, a `Path`, no credentials) per folder of the profile's `driver_paths` (for Server 2022:
`viostor\2k22\amd64`, `vioscsi\2k22\amd64`, `NetKVM\2k22\amd64`, the virtio-win ISO's layout) on
each drive letter of DRIVER_LETTERS. Setup loads what it finds there before it looks for a disk (so the
virtio disk is seen) and copies it into the installed image's driver store (so the virtio NIC works).

Why every letter C: to G: and not one: the ISO's letter is not known when the file is written. In
WinPE, X: is WinPE itself and the blank disk has no volume yet, so the CD-ROMs take the first free
letters in the order the firmware enumerates them: usually D:, E:, F: for installer, drivers and this
medium, but C: is free too and is taken by the first CD-ROM on some machines, and the order of the
SATA ports is the controller's, not ours. The agent attaches at most 4 CD-ROMs, so C: to G: covers
every position either way. Public unattend files for virtio-win almost all hard-code one letter
(`E:\viostor\...` beside the installer on D:), which breaks as soon as the layout differs; the
alternatives do not fit: `$WinPEDriver$` (the folder Setup searches at the root of every drive) would
mean copying the drivers onto our own medium, which the control plane never has, and a script that
searches the drives (`drvload` from a RunSynchronous command) runs too late for the disk and is code
of a kind we do not emit. What this relies on and could not be checked here: that Setup passes over a
Path that does not exist (Microsoft's reference for Path says nothing either way), and that the
drivers load under secure boot. No Windows image can be fetched on this machine: the tests prove the
file fits the grammar below, the media and the domain, not that Setup installs onto the virtio disk.
"""

from __future__ import annotations

import re
import secrets
import string
import xml.etree.ElementTree as ET  # noqa: S405 - we build XML and parse only what we built
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

NS = "urn:schemas-microsoft-com:unattend"
WCM = "http://schemas.microsoft.com/WMIConfig/2002/State"
EDITION_INDEX = {"SERVERSTANDARDCORE": 1, "SERVERSTANDARD": 2, "SERVERDATACENTERCORE": 3, "SERVERDATACENTER": 4}
COMPUTER_NAME_RE = r"(?![0-9]+$)[A-Za-z0-9][A-Za-z0-9-]{0,14}"
COMPONENT_ATTRS = {"processorArchitecture": "amd64", "publicKeyToken": "31bf3856ad364e35", "language": "neutral",
                   "versionScope": "nonSxS"}
# Where the driver ISO may be in WinPE (see the docstring): every letter its CD-ROM can take.
DRIVER_LETTERS = "CDEFG"
# A folder on the driver ISO, as a manifest's driver_paths writes it (manifest-schema.json says the same).
DRIVER_FOLDER = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}(?:\\[A-Za-z0-9][A-Za-z0-9_-]{0,63}){0,3}"
MAX_DRIVER_PATHS = 8
ET.register_namespace("", NS)
ET.register_namespace("wcm", WCM)
Sealer = Callable[[str], str]


class RenderError(ValueError):
    """The answer file does not fit our unattend schema."""


def generate_password(length: int = 20) -> str:
    """Meets Windows' complexity rule (upper, lower, digit, symbol); no XML or shell specials."""
    symbols = "!#%+-.:=?@^_~"
    alphabet = string.ascii_letters + string.digits + symbols
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if all(any(c in group for c in password) for group in
               (string.ascii_uppercase, string.ascii_lowercase, string.digits, symbols)):
            return password


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{NS}}}{tag}", {_attr(k): v for k, v in attrs.items()})
    if text is not None:
        node.text = text
    return node


def _attr(name: str) -> str:
    return f"{{{WCM}}}{name}" if name in ("action", "keyValue") else name


def _component(settings: ET.Element, name: str) -> ET.Element:
    return _el(settings, "component", name=name, **COMPONENT_ATTRS)


def _locale(component: ET.Element, locale: str) -> None:
    for name in ("InputLocale", "SystemLocale", "UILanguage", "UserLocale"):
        _el(component, name, locale)


def render(values: Mapping[str, Any], sealed_password: str, driver_paths: Sequence[str] = ()) -> str:
    """The answer file for checked inputs; `sealed_password` stands in for the Administrator password;
    `driver_paths`, folders on a driver ISO given with the deployment, are where Setup finds drivers."""
    root = ET.Element(f"{{{NS}}}unattend")
    windows_pe = _el(root, "settings", **{"pass": "windowsPE"})
    _windows_pe(windows_pe, values)
    if driver_paths:
        _driver_paths(windows_pe, driver_paths)
    specialize = _component(_el(root, "settings", **{"pass": "specialize"}), "Microsoft-Windows-Shell-Setup")
    _el(specialize, "ComputerName", values["computer_name"])
    _el(specialize, "TimeZone", values["time_zone"])
    _oobe(_el(root, "settings", **{"pass": "oobeSystem"}), values, sealed_password)
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
    check(text)
    return text


def _windows_pe(settings: ET.Element, values: Mapping[str, Any]) -> None:
    international = _component(settings, "Microsoft-Windows-International-Core-WinPE")
    _el(_el(international, "SetupUILanguage"), "UILanguage", values["locale"])
    _locale(international, values["locale"])
    setup = _component(settings, "Microsoft-Windows-Setup")
    disk = _el(_el(setup, "DiskConfiguration"), "Disk", action="add")
    _el(disk, "DiskID", "0")
    _el(disk, "WillWipeDisk", "true")
    create = _el(disk, "CreatePartitions")
    for order, kind, size in ((1, "EFI", "100"), (2, "MSR", "16"), (3, "Primary", None)):
        partition = _el(create, "CreatePartition", action="add")
        _el(partition, "Order", str(order))
        _el(partition, "Type", kind)
        _el(partition, "Size", size) if size else _el(partition, "Extend", "true")
    modify = _el(disk, "ModifyPartitions")
    for order, number, fs, label in ((1, 1, "FAT32", "System"), (2, 3, "NTFS", "Windows")):
        partition = _el(modify, "ModifyPartition", action="add")
        for name, text in (("Order", str(order)), ("PartitionID", str(number)), ("Format", fs), ("Label", label)):
            _el(partition, name, text)
        if fs == "NTFS":
            _el(partition, "Letter", "C")
    image = _el(_el(setup, "ImageInstall"), "OSImage")
    meta = _el(_el(image, "InstallFrom"), "MetaData", action="add")
    _el(meta, "Key", "/IMAGE/INDEX")
    _el(meta, "Value", str(EDITION_INDEX[values["edition"]]))
    install_to = _el(image, "InstallTo")
    _el(install_to, "DiskID", "0")
    _el(install_to, "PartitionID", "3")
    user = _el(setup, "UserData")
    _el(user, "AcceptEula", "true")
    _el(user, "FullName", "Fleetvisor")
    _el(user, "Organization", "Fleetvisor")


def _driver_paths(settings: ET.Element, folders: Sequence[str]) -> None:
    paths = _el(_component(settings, "Microsoft-Windows-PnpCustomizationsWinPE"), "DriverPaths")
    for key, (letter, folder) in enumerate(((letter, folder) for folder in folders for letter in DRIVER_LETTERS),
                                           start=1):
        _el(_el(paths, "PathAndCredentials", action="add", keyValue=str(key)), "Path", f"{letter}:\\{folder}")


def _oobe(settings: ET.Element, values: Mapping[str, Any], sealed_password: str) -> None:
    _locale(_component(settings, "Microsoft-Windows-International-Core"), values["locale"])
    shell = _component(settings, "Microsoft-Windows-Shell-Setup")
    password = _el(_el(shell, "UserAccounts"), "AdministratorPassword")
    _el(password, "Value", sealed_password)
    _el(password, "PlainText", "true")
    logon = _el(shell, "AutoLogon")
    logon_password = _el(logon, "Password")
    _el(logon_password, "Value", sealed_password)
    _el(logon_password, "PlainText", "true")
    for name, text in (("Enabled", "true"), ("LogonCount", "1"), ("Username", "Administrator")):
        _el(logon, name, text)
    oobe = _el(shell, "OOBE")
    for name in ("HideEULAPage", "HideLocalAccountScreen", "HideOEMRegistrationScreen", "HideOnlineAccountScreens",
                 "HideWirelessSetupInOOBE", "SkipMachineOOBE", "SkipUserOOBE"):
        _el(oobe, name, "true")
    _el(oobe, "NetworkLocation", "Work")
    _el(oobe, "ProtectYourPC", "3")
    command = _el(_el(shell, "FirstLogonCommands"), "SynchronousCommand", action="add")
    _el(command, "Order", "1")
    _el(command, "CommandLine", "cmd.exe /c echo FLEETVISOR-FIRST-BOOT done > COM1")
    _el(command, "Description", "Tell Fleetvisor that setup finished")


def xml_escaped(value: str) -> str:
    """How a clear value is sealed for this file: escaped as XML text."""
    return escape(value, {'"': "&quot;", "'": "&apos;"})


# --- our schema of the answer files we emit -------------------------------------------------------

@dataclass(frozen=True)
class E:
    """An element: its children in order (each with min and max occurrences), its text's form, its
    attributes' forms. `text` None: no text allowed."""

    name: str
    children: tuple[tuple[E, int, int], ...] = ()
    text: str | None = None
    attrs: Mapping[str, str] = field(default_factory=dict)


def leaf(tag: str, pattern: str) -> tuple[E, int, int]:
    return E(tag, text=pattern), 1, 1


def node(tag: str, *children: tuple[E, int, int], **attrs: str) -> tuple[E, int, int]:
    """An element that occurs exactly once, with these children in this order."""
    return E(tag, children, attrs=attrs), 1, 1


BOOL, NUM, LOCALE = "true|false", "[0-9]{1,6}", "[a-z]{2}-[A-Z]{2}"
ADD = {f"{{{WCM}}}action": "add"}
KEYED = {**ADD, f"{{{WCM}}}keyValue": "[1-9][0-9]?"}
COMPONENT = {k: re.escape(v) for k, v in COMPONENT_ATTRS.items()}
SECRET = r"[^\x00-\x1f\x7f]{1,1000}"
LOCALES = (leaf("InputLocale", LOCALE), leaf("SystemLocale", LOCALE), leaf("UILanguage", LOCALE),
           leaf("UserLocale", LOCALE))


def _component_spec(name: str, *children: tuple[E, int, int]) -> tuple[E, int, int]:
    return node("component", *children, name=re.escape(name), **COMPONENT)


UNATTEND = E("unattend", (
    node("settings", _component_spec(
        "Microsoft-Windows-International-Core-WinPE", node("SetupUILanguage", leaf("UILanguage", LOCALE)), *LOCALES),
        _component_spec(
            "Microsoft-Windows-Setup",
            node("DiskConfiguration", node(
                "Disk", leaf("DiskID", "0"), leaf("WillWipeDisk", BOOL),
                node("CreatePartitions", (E("CreatePartition", (
                    leaf("Order", NUM), leaf("Type", "EFI|MSR|Primary"), (E("Size", text=NUM), 0, 1),
                    (E("Extend", text=BOOL), 0, 1)), attrs=ADD), 1, 8)),
                node("ModifyPartitions", (E("ModifyPartition", (
                    leaf("Order", NUM), leaf("PartitionID", NUM), leaf("Format", "FAT32|NTFS"),
                    leaf("Label", "[A-Za-z]{1,32}"), (E("Letter", text="[C-Z]"), 0, 1)), attrs=ADD), 1, 8)),
                **ADD)),
            node("ImageInstall", node("OSImage", node("InstallFrom", node(
                "MetaData", leaf("Key", "/IMAGE/INDEX"), leaf("Value", "[1-4]"), **ADD)),
                node("InstallTo", leaf("DiskID", "0"), leaf("PartitionID", NUM)))),
            node("UserData", leaf("AcceptEula", "true"), leaf("FullName", "[A-Za-z ]{1,64}"),
                 leaf("Organization", "[A-Za-z ]{1,64}"))),
        # Only with a driver ISO, and last: an optional component must not be tried against the others.
        (_component_spec("Microsoft-Windows-PnpCustomizationsWinPE", node("DriverPaths", (E(
            "PathAndCredentials", (leaf("Path", f"[{DRIVER_LETTERS}]:\\\\{DRIVER_FOLDER}"),), attrs=KEYED),
            1, len(DRIVER_LETTERS) * MAX_DRIVER_PATHS)))[0], 0, 1),
        **{"pass": "windowsPE"}),
    node("settings", _component_spec(
        "Microsoft-Windows-Shell-Setup", leaf("ComputerName", COMPUTER_NAME_RE),
        leaf("TimeZone", r"[A-Za-z0-9 .()+-]{1,64}")), **{"pass": "specialize"}),
    node("settings", _component_spec("Microsoft-Windows-International-Core", *LOCALES), _component_spec(
        "Microsoft-Windows-Shell-Setup",
        node("UserAccounts", node("AdministratorPassword", leaf("Value", SECRET), leaf("PlainText", "true"))),
        node("AutoLogon", node("Password", leaf("Value", SECRET), leaf("PlainText", "true")), leaf("Enabled", BOOL),
             leaf("LogonCount", "1"), leaf("Username", "Administrator")),
        node("OOBE", *(leaf(name, BOOL) for name in (
            "HideEULAPage", "HideLocalAccountScreen", "HideOEMRegistrationScreen", "HideOnlineAccountScreens",
            "HideWirelessSetupInOOBE", "SkipMachineOOBE", "SkipUserOOBE")),
            leaf("NetworkLocation", "Home|Work|Other"), leaf("ProtectYourPC", "[1-3]")),
        node("FirstLogonCommands", node(
            "SynchronousCommand", leaf("Order", NUM),
            leaf("CommandLine", re.escape("cmd.exe /c echo FLEETVISOR-FIRST-BOOT done > COM1")),
            leaf("Description", "[A-Za-z ]{1,100}"), **ADD))), **{"pass": "oobeSystem"}),
))


def check(text: str) -> None:
    """Hold an answer file to UNATTEND: namespace, element order and counts, attributes, text forms."""
    try:
        root = ET.fromstring(text)  # noqa: S314 - our own output, never a caller's
    except ET.ParseError as exc:
        raise RenderError(f"not well-formed XML: {exc}") from exc
    _match(root, UNATTEND, "/unattend")


def _local(tag: str) -> str:
    if not tag.startswith(f"{{{NS}}}"):
        raise RenderError(f"element {tag} is not in the unattend namespace")
    return tag[len(NS) + 2:]


def _match(element: ET.Element, spec: E, where: str) -> None:
    if _local(element.tag) != spec.name:
        raise RenderError(f"{where}: expected <{spec.name}>, found <{_local(element.tag)}>")
    if set(element.attrib) != set(spec.attrs):
        raise RenderError(f"{where}: attributes {sorted(element.attrib)} instead of {sorted(spec.attrs)}")
    for name, pattern in spec.attrs.items():
        if not re.fullmatch(pattern, element.attrib[name]):
            raise RenderError(f"{where}: attribute {name} has a value not allowed here")
    text = (element.text or "").strip()
    if spec.text is None and text or spec.text is not None and not re.fullmatch(spec.text, element.text or ""):
        raise RenderError(f"{where}: text not allowed here or not of its form")
    children = list(element)
    at = 0
    for child_spec, low, high in spec.children:
        count = 0
        while at < len(children) and count < high and _local(children[at].tag) == child_spec.name:
            _match(children[at], child_spec, f"{where}/{child_spec.name}")
            at, count = at + 1, count + 1
        if count < low:
            raise RenderError(f"{where}: <{child_spec.name}> missing")
    if at < len(children):
        raise RenderError(f"{where}: unexpected <{_local(children[at].tag)}>")
