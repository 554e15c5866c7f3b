#!/usr/bin/env python3
"""man.py: the man pages, made from the one source of each text.

ekulab(1) and ekunode(8) are the programs' own --help texts (every
command's and every verb's, as `ekulab CMD --help` prints them), so the
page and --help cannot drift; ekulab-topology(5) is the "Topology
reference" section of docs/lab.md.

usage: scripts/man.py --ekulab PATH --ekunode PATH --lab-md docs/lab.md
                      --version V --out DIR
The build runs it (CMake target `man`); `cmake --install` installs the
pages. Only the Python standard library is needed.
"""
import argparse
import datetime
import os
import re
import subprocess
import sys

DATE = datetime.date.today().isoformat()
if os.environ.get("SOURCE_DATE_EPOCH"):
    DATE = datetime.datetime.utcfromtimestamp(
        int(os.environ["SOURCE_DATE_EPOCH"])).date().isoformat()


def esc(s):
    """Plain text for roff: backslashes, leading dots, dashes of flags."""
    s = s.replace("\\", "\\e")
    s = re.sub(r"(?<![\w])-", r"\\-", s)
    if s.startswith((".", "'")):
        s = "\\&" + s
    return s


def run_help(prog, args):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    p = subprocess.run([prog] + args + ["--help"], capture_output=True,
                       text=True, env=env)
    if p.returncode != 0 or not p.stdout.strip():
        sys.exit("man.py: '%s %s --help' failed (exit %d): %s" %
                 (prog, " ".join(args), p.returncode, p.stderr.strip()))
    return p.stdout


# An option or exit-status item: two or more leading spaces, the term
# (a flag, or a number), then two or more spaces and its meaning; or the
# term alone (the meaning on the next, deeper lines).
ITEM = re.compile(r"^ {1,4}(-[^ ].*?|[0-9][0-9, ]*|[A-Z_]+)(?: {2,}(.*))?$")
HEAD = re.compile(r"^([A-Za-z][A-Za-z ]*):$")


def split_usage(text):
    """(the usage lines, the rest) of a --help text."""
    lines = text.rstrip("\n").split("\n")
    i = 0
    if lines and lines[0].startswith("usage:"):
        while i < len(lines) and lines[i].strip():
            i += 1
    return lines[:i], "\n".join(lines[i:])


def render_help(text, skip_usage=False):
    """One --help text as roff: the usage lines verbatim, paragraphs,
    "options:"-style headed lists as tagged paragraphs."""
    out = []
    usage, rest = split_usage(text)
    if usage and not skip_usage:
        out += [".nf"] + [esc(u) for u in usage] + [".fi"]
    lines = rest.split("\n")
    i = 0
    para = []
    in_list = False

    def flush():
        nonlocal para
        if para:
            out.append(".PP")
            out.extend(esc(p.strip()) for p in para)
            para = []

    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush()
            in_list = False
            i += 1
            continue
        m = HEAD.match(line)
        if m:
            flush()
            out.append(".PP")
            out.append("\\fB%s:\\fR" % esc(m.group(1)))
            in_list = True
            i += 1
            continue
        m = ITEM.match(line)
        if m and (in_list or line.lstrip().startswith("-")):
            flush()
            term, meaning = m.group(1).strip(), [m.group(2) or ""]
            i += 1
            # continuation: deeper indented lines that are not items
            indent = len(line) - len(line.lstrip())
            while i < len(lines) and lines[i].strip() and \
                    len(lines[i]) - len(lines[i].lstrip()) > indent + 1 \
                    and not ITEM.match(lines[i]):
                meaning.append(lines[i].strip())
                i += 1
            out.append(".TP")
            out.append("\\fB%s\\fR" % esc(term))
            out.append(esc(" ".join(x for x in meaning if x).strip()))
            continue
        if line.startswith("  ") and not para:
            # preformatted (lists of forms, examples)
            flush()
            block = []
            while i < len(lines) and lines[i].startswith("  ") and \
                    not (ITEM.match(lines[i]) and
                         lines[i].lstrip().startswith("-")):
                block.append(lines[i])
                i += 1
            out += [".PP", ".nf"] + [esc(b) for b in block] + [".fi"]
            continue
        para.append(line)
        i += 1
    flush()
    return out


def commands_of(main_help):
    cmds, on = [], False
    for line in main_help.split("\n"):
        if line.strip() == "commands:":
            on = True
            continue
        if on:
            if not line.strip():
                break
            cmds.append(line.split()[0])
    return cmds


def verbs_of(cmd, text):
    """The verbs a command's help lists ("verbs:" section) or names
    ('ekulab CMD VERB --help')."""
    verbs, on = [], False
    for line in text.split("\n"):
        if line.strip() == "verbs:":
            on = True
            continue
        if on:
            if not line.strip():
                on = False
                continue
            verbs.append(line.split()[0])
    for v in re.findall(r"'ekulab %s ([a-z-]+) --help'" % re.escape(cmd),
                        text):
        if v not in verbs and v != "VERB":
            verbs.append(v)
    return verbs


def page_ekulab(prog, version):
    main = run_help(prog, [])
    out = [".TH EKULAB 1 %s \"ekulab %s\" \"ekulab manual\"" % (DATE, version),
           ".SH NAME",
           "ekulab \\- FN74362 lab: PKI, handshake truth table, node "
           "administration, labs, plans, audit",
           ".SH SYNOPSIS"]
    usage, _ = split_usage(main)
    out += [".nf"] + [esc(u) for u in usage] + [".fi", ".SH DESCRIPTION"]
    out += render_help(main, skip_usage=True)
    out += [".SH COMMANDS"]
    for cmd in commands_of(main):
        text = run_help(prog, [cmd])
        out += [".SS \"ekulab %s\"" % cmd] + render_help(text)
        for verb in verbs_of(cmd, text):
            vt = run_help(prog, [cmd, verb])
            out += [".SS \"ekulab %s %s\"" % (cmd, verb)] + render_help(vt)
    out += [".SH FILES",
            "Labs keep their state under \\fI$TMPDIR/ekulab\\-UID/NAME\\fR "
            "(\\fI/tmp\\fR when TMPDIR is unset or longer than 60 bytes).",
            ".SH SEE ALSO",
            "\\fBekunode\\fR(8), \\fBekulab\\-topology\\fR(5); the documents "
            "in /usr/share/doc/ekulab (README.md, docs/)."]
    return out


def page_ekunode(prog, version):
    text = run_help(prog, [])
    out = [".TH EKUNODE 8 %s \"ekunode %s\" \"ekulab manual\"" % (DATE, version),
           ".SH NAME",
           "ekunode \\- a cluster peer that replicates a configuration "
           "database over mutual TLS with Expressway's EKU behaviour",
           ".SH SYNOPSIS"]
    usage, _ = split_usage(text)
    out += [".nf"] + [esc(u) for u in usage] + [".fi", ".SH DESCRIPTION"]
    out += render_help(text, skip_usage=True)
    out += [".SH SEE ALSO", "\\fBekulab\\fR(1), \\fBekulab\\-topology\\fR(5)"]
    return out


def md_inline(s):
    s = esc(s)
    s = re.sub(r"\*\*(.+?)\*\*", r"\\fB\1\\fR", s)
    s = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", s)
    s = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", s)
    return s


def page_topology(md_path, version):
    md = open(md_path, encoding="utf-8").read()
    # The reference, then the deployment form when the document has it.
    parts = []
    for head in ("Topology reference", "Deployments"):
        m = re.search(r"^## %s[^\n]*\n(.*?)(?=^## |\Z)" % re.escape(head),
                      md, re.S | re.M)
        if m:
            parts.append((head, m.group(1)))
    if not parts or parts[0][0] != "Topology reference":
        sys.exit("man.py: %s has no '## Topology reference' section" % md_path)
    out = [".TH EKULAB\\-TOPOLOGY 5 %s \"ekulab %s\" \"ekulab manual\"" %
           (DATE, version),
           ".SH NAME",
           "ekulab\\-topology \\- the topology file of an ekulab lab (YAML)",
           ".SH DESCRIPTION"]
    lines = []
    for head, body in parts:
        if lines:
            lines += ["", "### " + head, ""]
        lines += body.strip("\n").split("\n")
    i, para = 0, []

    def flush():
        nonlocal para
        if para:
            out.append(".PP")
            out.extend(md_inline(p) for p in para)
            para = []

    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            flush()
            i += 1
            out += [".PP", ".nf"]
            while i < len(lines) and not lines[i].startswith("```"):
                out.append(esc(lines[i]))
                i += 1
            out.append(".fi")
            i += 1
            continue
        if line.startswith("### "):
            flush()
            out.append(".SS \"%s\"" % line[4:].strip().replace("`", ""))
        elif line.startswith("|"):
            flush()
            cells = [c.strip() for c in line.strip("|").split("|")]
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if all(re.fullmatch(r":?-+:?", c) for c in cells) or \
                    re.fullmatch(r"\|[-:| ]+\|", nxt.strip()):
                i += 1  # the separator, or the header row above it
                continue
            out.append(".TP")
            out.append(md_inline(cells[0]))
            out.append(" \\(em ".join(md_inline(c) for c in cells[1:]))
        elif re.match(r"^[-*] ", line):
            flush()
            item = [line[2:]]
            i += 1
            while i < len(lines) and lines[i].startswith("  "):
                item.append(lines[i].strip())
                i += 1
            out += [".IP \\(bu 2", md_inline(" ".join(item))]
            continue
        elif not line.strip():
            flush()
        else:
            para.append(line)
        i += 1
    flush()
    out += [".SH SEE ALSO", "\\fBekulab\\fR(1), \\fBekunode\\fR(8)"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ekulab", required=True)
    ap.add_argument("--ekunode", required=True)
    ap.add_argument("--lab-md", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    pages = {
        "ekulab.1": page_ekulab(a.ekulab, a.version),
        "ekunode.8": page_ekunode(a.ekunode, a.version),
        "ekulab-topology.5": page_topology(a.lab_md, a.version),
    }
    for name, lines in pages.items():
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            f.write(".\\\" generated by scripts/man.py; do not edit\n")
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
