"""Captures the real tool-output corpus: commands run on a development machine, each with the user
question it answers and the facts that answer needs.

    python tests/data/compression/capture.py [--only ID ...]

Writes `real/<category>/<id>.txt` and `items.json`. Outputs depend on the machine (versions,
paths, history), so the facts listed here were read from the committed outputs; a fact that is no
longer in a re-captured output is reported and the item must be looked at again. Fixtures (a
small Python package with failing tests, a C, a Rust and a Java program) are written to a scratch
directory first, so every command has something real to run against.
"""

# The commands and facts are quoted exactly as run and as printed, whatever their length.
# ruff: noqa: E501

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SCRATCH = Path(os.environ.get("CORPUS_SCRATCH", "/tmp/corpus_src"))
PY = sys.executable
VENV_BIN = str(Path(PY).parent)
SITE = subprocess.run(
    [PY, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
    capture_output=True,
    text=True,
    check=True,
).stdout.strip()

FIXTURES = {
    "pyproj/billing/__init__.py": "",
    "pyproj/pytest.ini": "[pytest]\npythonpath = .\n",
    "pyproj/tests/__init__.py": "",
    "pyproj/tests/test_legacy.py": """import unittest
from decimal import Decimal
from billing.invoice import currency, split, total


class TotalTests(unittest.TestCase):
    def test_empty(self):
        self.assertEqual(total([], 0), Decimal("0.00"))

    def test_rounding(self):
        self.assertEqual(total([(3, "0.333")], 0), Decimal("1.00"))


class CurrencyTests(unittest.TestCase):
    def test_known(self):
        for code in ("EUR", "USD", "GBP"):
            with self.subTest(code=code):
                self.assertTrue(currency(code))

    def test_yen(self):
        self.assertEqual(currency("JPY"), "¥")


class SplitTests(unittest.TestCase):
    def test_three_ways(self):
        self.assertEqual(sum(split(Decimal("100.00"), 3)), Decimal("100.00"))
""",
    "pyproj/billing/invoice.py": '''"""Invoices."""
from decimal import Decimal


def total(lines, tax_rate):
    subtotal = sum(Decimal(str(q)) * Decimal(str(p)) for q, p in lines)
    return (subtotal * (1 + Decimal(str(tax_rate)))).quantize(Decimal("0.01"))


def split(amount, parts):
    share = amount / parts
    return [round(share, 2)] * parts


def currency(code):
    return {"EUR": "€", "USD": "$", "GBP": "£"}[code]
''',
    "pyproj/tests/test_invoice.py": """import pytest
from decimal import Decimal
from billing.invoice import currency, split, total


@pytest.mark.parametrize("n", range(120))
def test_total_of_n_lines(n):
    assert total([(1, 1)] * n, 0) == Decimal(n)


def test_total_with_tax():
    assert total([(2, "9.99")], "0.2") == Decimal("23.98")


def test_split_sums_to_amount():
    assert sum(split(Decimal("100.00"), 3)) == Decimal("100.00")


def test_split_by_zero_parts():
    assert split(Decimal("10"), 0) == []


@pytest.mark.parametrize("code", ["EUR", "USD", "GBP", "JPY"])
def test_currency_symbol(code):
    assert currency(code)
""",
    "pyproj/tests/test_reports.py": """import pytest


@pytest.mark.parametrize("region", ["eu-west", "eu-north", "us-east", "us-west", "ap-south"])
@pytest.mark.parametrize("month", range(1, 13))
def test_monthly_report(month, region):
    assert month in range(1, 13)


def test_report_header():
    header = "Invoice report 2024"
    assert header.endswith("2025"), "report year is stale"
""",
    "cproj/Makefile": """CFLAGS=-Wall -Wextra -O2
OBJS=$(patsubst %.c,%.o,$(wildcard src/*.c))
all: ledger
ledger: $(OBJS)
\t$(CC) -o $@ $^
%.o: %.c
\t$(CC) $(CFLAGS) -c $< -o $@
""",
    "rproj/Cargo.toml": '[package]\nname = "ledger"\nversion = "0.3.1"\nedition = "2021"\n',
    "rproj/src/main.rs": """mod rates;
fn main() {
    let cfg = rates::load("rates.toml");
    let total: u32 = cfg.iter().map(|r| r.cents).sum();
    let label: String = total;
    println!("{label}");
}
""",
    "rproj/src/rates.rs": """pub struct Rate { pub cents: u64, pub code: String }
pub fn load(_path: &str) -> Vec<Rate> {
    let unused = 5;
    vec![Rate { cents: 120, code: "EUR".into() }]
}
""",
    "jproj/Ledger.java": """import java.util.*;
public class Ledger {
    static Map<String, Integer> balances = new HashMap<>();
    static int balance(String account) {
        return balances.get(account);
    }
    static int settle(String account, int depth) {
        if (depth > 0) return settle(account, depth - 1);
        try {
            return balance(account);
        } catch (NullPointerException e) {
            throw new IllegalStateException("no balance for account " + account, e);
        }
    }
    public static void main(String[] args) {
        balances.put("acct-1001", 250);
        System.out.println(settle("acct-1001", 3));
        System.out.println(settle("acct-2002", 12));
    }
}
""",
    "nodeproj/server.js": """function parseRoute(route) {
  return route.upstream.replace(/\\/$/, '');
}
function loadRoutes(routes) {
  return routes.map((r) => parseRoute(r));
}
function start(config) {
  return loadRoutes(config.routes);
}
start({ routes: [{ upstream: 'https://api.example.com/' }, { model: 'glm-4.6' }] });
""",
    "pyerr/walk.py": """import sys

sys.setrecursionlimit(120)


def walk(node, depth):
    return visit(node, depth + 1)


def visit(node, depth):
    return walk(node.get("child", node), depth)


walk({}, 0)
""",
    "pyerr/chained.py": """import json


def read_config(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError("config file billing.toml is not valid JSON") from exc


def rate_for(config, region):
    return config["regions"][region]["vat"]


def main():
    config = read_config('{"regions": {"eu-west": {"vat": 0.2}}}')
    print(rate_for(config, "eu-west"))
    read_config("{'regions': }")


main()
""",
}


def _c_sources() -> dict[str, str]:
    sources = {}
    for n in range(24):
        sources[f"cproj/src/mod{n:02d}.c"] = f"int mod{n:02d}(int x) {{ return x * {n}; }}\n"
    sources["cproj/src/ledger.c"] = """#include <stdio.h>
#include <string.h>
struct entry { const char *account; long cents; };
static long sum(struct entry *e, int n) { long s = 0; for (int i = 0; i <= n; i++) s += e[i].cents; return s; }
int main(void) {
    struct entry entries[2] = {{"acct-1001", 250}, {"acct-2002", 120}};
    int unused_count;
    char *label = sum(entries, 2);
    printf("%s\\n", label);
    return 0;
}
"""
    sources["cproj/src/main_helpers.c"] = "int helper(void) { return 0; }\n"
    return sources


def write_fixtures() -> None:
    if SCRATCH.exists():
        shutil.rmtree(SCRATCH)
    for name, text in {**FIXTURES, **_c_sources()}.items():
        path = SCRATCH / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def read_tool(path: str, limit: int | None = None) -> str:
    """A file as a Read tool shows it: `cat -n`-style numbers and an arrow before each line."""
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "\n".join(f"{n:>6}→{line}" for n, line in enumerate(lines[:limit], start=1))


def item(
    ident: str,
    category: str,
    command: str,
    question: str,
    facts: list[str],
    *,
    cwd: str | Path = REPO,
    tool: str = "bash",
    control: bool = False,
) -> dict[str, object]:
    return {
        "id": ident,
        "category": category,
        "command": command,
        "cwd": str(cwd),
        "question": question,
        "facts": facts,
        "tool": tool,
        "control": control,
    }


S = str(SCRATCH)
P = f"{S}/pyproj"
WT = str(REPO)
ITEMS: list[dict[str, object]] = [
    # Test runners --------------------------------------------------------------------------
    item(
        "pytest_fixture_q",
        "tests",
        "pytest -q -p no:cacheprovider",
        "Which tests fail in the billing package and why?",
        [
            "FAILED tests/test_invoice.py::test_split_sums_to_amount",
            "FAILED tests/test_invoice.py::test_split_by_zero_parts",
            "FAILED tests/test_invoice.py::test_currency_symbol[JPY]",
            "E       AssertionError: assert Decimal('99.99') == Decimal('100.00')",
            "E       decimal.DivisionByZero",
            "E       KeyError: 'JPY'",
        ],
        cwd=P,
    ),
    item(
        "pytest_fixture_v",
        "tests",
        "pytest -v -p no:cacheprovider",
        "Does test_split_by_zero_parts pass?",
        ["tests/test_invoice.py::test_split_by_zero_parts FAILED", "6 failed, 187 passed"],
        cwd=P,
    ),
    item(
        "pytest_fixture_ra",
        "tests",
        "pytest -rA -p no:cacheprovider tests/test_invoice.py",
        "Did test_total_with_tax pass, and how many tests failed?",
        ["PASSED tests/test_invoice.py::test_total_with_tax", "3 failed, 124 passed"],
        cwd=P,
    ),
    item(
        "pytest_fixture_x",
        "tests",
        "pytest -x -p no:cacheprovider --tb=long",
        "What is the first failure, with its full traceback?",
        [
            "def test_split_sums_to_amount():",
            "E        +  where Decimal('99.99') = sum([Decimal('33.33'), Decimal('33.33'), Decimal('33.33')])",
            "tests/test_invoice.py:16: AssertionError",
            "1 failed, 121 passed",
        ],
        cwd=P,
    ),
    item(
        "pytest_reports_only",
        "tests",
        "pytest -v -p no:cacheprovider tests/test_reports.py",
        "Why does test_report_header fail?",
        [
            "E       AssertionError: report year is stale",
            "'Invoice report 2024'.endswith",
            "1 failed, 60 passed",
        ],
        cwd=P,
    ),
    item(
        "pytest_project_tokens",
        "tests",
        "pytest -v -p no:cacheprovider tests/test_compression_tokens.py tests/test_compression_text.py",
        "Did test_digits_cost_more_per_byte_than_letters pass, and how many tests ran?",
        [
            "tests/test_compression_tokens.py::test_digits_cost_more_per_byte_than_letters PASSED",
            "29 passed",
        ],
    ),
    item(
        "pytest_project_arrays",
        "tests",
        "pytest -v -p no:cacheprovider tests/test_compression_arrays.py tests/test_compression_logs.py",
        "Did the corpus test of logs survive for pytest_fixture_x.txt, and did anything fail?",
        [
            "test_every_error_warning_and_stack_trace_line_of_the_corpus_survives[pytest_fixture_x.txt] PASSED",
            "65 passed",
        ],
    ),
    item(
        "pytest_durations",
        "tests",
        "pytest -q -p no:cacheprovider --durations=15 tests/test_compression_blocks.py tests/test_compression_engine.py",
        "Which are the slowest tests in the blocks and engine suites?",
        [
            "0.29s call     tests/test_compression_engine.py::test_a_tool_output_becomes_the_same_bytes_whatever_surrounds_it",
            "47 passed",
        ],
    ),
    item(
        "pytest_collect",
        "tests",
        "pytest --collect-only -q -p no:cacheprovider tests/test_compression_engine.py tests/test_compression_blocks.py",
        "Is test_gemini_function_responses_are_found_as_objects collected?",
        [
            "tests/test_compression_blocks.py::test_gemini_function_responses_are_found_as_objects",
            "47 tests collected",
        ],
    ),
    item(
        "unittest_verbose",
        "tests",
        "python -m unittest -v tests.test_legacy",
        "Which unittest cases fail in test_legacy, and with what error?",
        [
            "test_yen (tests.test_legacy.CurrencyTests.test_yen) ... ERROR",
            "test_three_ways (tests.test_legacy.SplitTests.test_three_ways) ... FAIL",
            "KeyError: 'JPY'",
            "AssertionError: Decimal('99.99') != Decimal('100.00')",
            "FAILED (failures=1, errors=1)",
        ],
        cwd=P,
    ),
    # Build and install logs, package listings ----------------------------------------------
    item(
        "pip_list",
        "build",
        "pip list",
        "Which version of httpx is installed?",
        ["httpx              0.28.1"],
    ),
    item(
        "pip_list_verbose",
        "build",
        "pip list -v",
        "Where is orjson installed from and which version is it?",
        ["orjson             3.13.0           /work/main/.venv/lib/python3.11/site-packages pip"],
    ),
    item(
        "pip_freeze",
        "build",
        "pip freeze",
        "What version of Django is pinned in the environment?",
        ["Django==5.2.19"],
    ),
    item(
        "pip_show_files",
        "build",
        "pip show -f ahocorasick-rs",
        "What version is ahocorasick-rs and what does it require?",
        ["Version: 1.0.3", "Requires: typing-extensions"],
    ),
    item(
        "pip_install_reqs",
        "build",
        "pip install -r requirements.txt",
        "Is daphne already installed, and at which version?",
        [
            "Requirement already satisfied: daphne==4.2.3 in /work/main/.venv/lib/python3.11/site-packages (from -r requirements.txt (line 5)) (4.2.3)"
        ],
    ),
    item(
        "pip_missing",
        "build",
        "pip show requests-toolbelt django-environ nosuchpkg-xyz",
        "Is requests-toolbelt installed? And django-environ?",
        [
            "Name: django-environ",
            "Version: 0.14.0",
            "WARNING: Package(s) not found: nosuchpkg-xyz, requests-toolbelt",
        ],
    ),
    item(
        "dpkg_list",
        "build",
        "dpkg -l",
        "Which version of libssl3 is installed?",
        ["ii  libssl3:amd64                             3.0.19-1~deb12u2"],
    ),
    item(
        "apt_installed",
        "build",
        "apt list --installed 2>/dev/null",
        "Is the gcc-12 package installed and from which suite?",
        ["gcc-12/oldstable,now 12.2.0-14+deb12u1 amd64 [installed,automatic]"],
    ),
    item(
        "apt_policy",
        "build",
        "apt-cache policy python3 openssl nosuchpackage-zz git",
        "What candidate versions does apt have for git and for openssl?",
        ["Candidate: 1:2.39.5-0+deb12u3", "Candidate: 3.0.22-1~deb12u2"],
    ),
    item(
        "npm_ls",
        "build",
        "npm ls --all 2>/dev/null | head -400",
        "Which version of nan does node-pty pull in?",
        ["node-pty@1.0.0", "nan@2.30.0"],
        cwd="/tmp/clis",
    ),
    item(
        "make_gcc",
        "build",
        "make -k 2>&1; echo exit status $?",
        "Does the C ledger build, and what does gcc report about ledger.c?",
        [
            "src/ledger.c:8:19: warning: initialization of ‘char *’ from ‘long int’ makes pointer from integer without a cast [-Wint-conversion]",
            "src/ledger.c:4:93: warning: array subscript 2 is outside array bounds",
            "exit status 0",
        ],
        cwd=f"{S}/cproj",
    ),
    item(
        "cargo_build",
        "build",
        "cargo build --offline 2>&1; echo exit status $?",
        "Why does the Rust ledger crate fail to compile?",
        [
            "error[E0308]: mismatched types",
            "error[E0277]: a value of type `u32` cannot be made by summing an iterator over elements of type `u64`",
            'error: could not compile `ledger` (bin "ledger") due to 2 previous errors; 1 warning emitted',
            "exit status 101",
        ],
        cwd=f"{S}/rproj",
    ),
    item(
        "compileall",
        "build",
        "python -m compileall -f proxy routing keys requestlog dashboard 2>&1 | head -300",
        "Did compileall compile proxy/compression/pinning.py?",
        ["Compiling 'proxy/compression/pinning.py'..."],
    ),
    item(
        "importtime",
        "build",
        "python -X importtime -c 'import django.db.models, httpx' 2>&1",
        "How long does importing httpx take on its own, cumulatively?",
        ["import time:      1073 |      73479 | httpx"],
    ),
    item(
        "ruff_check",
        "build",
        "ruff check --no-cache --select E,F,W,B,UP --output-format concise "
        + SITE
        + "/httpx 2>&1 | head -300",
        "Are there any UP031 or B904 findings in httpx/_urlparse.py or _multipart.py?",
        [
            "httpx/_multipart.py:239:29: UP031 Use format specifiers instead of percent format",
            "httpx/_urlparse.py:361:13: B904",
            "httpx/_urlparse.py:411:9: B904",
        ],
    ),
    # JSON APIs and machine-readable dumps --------------------------------------------------
    item(
        "pip_list_json",
        "json",
        "pip list --format=json | python -m json.tool",
        "Which version of orjson is installed?",
        ['"name": "orjson", "version": "3.13.0"'],
    ),
    item(
        "pip_inspect",
        "json",
        'pip inspect 2>/dev/null | python -c \'import json,sys; d=json.load(sys.stdin); print(json.dumps([{k: i["metadata"].get(k) for k in ("name","version","summary","requires_python","license")} | {"installer": i.get("installer"), "requested": i.get("requested")} for i in d["installed"]], indent=2))\'',
        "What does the whitenoise package say it is, and which Python does it require?",
        [
            '"name": "whitenoise", "version": "6.12.0", "summary": "Radically simplified static file serving for WSGI applications", "requires_python": ">=3.10"'
        ],
    ),
    item(
        "npm_ls_json",
        "json",
        "npm ls --json 2>/dev/null",
        "Which version of @google/gemini-cli is installed?",
        ['"@google/gemini-cli": {"version": "0.61.0"'],
        cwd="/tmp/clis",
    ),
    item(
        "ip_addr_json",
        "json",
        "ip -j -p addr",
        "What is the loopback interface's MTU and address?",
        ['"ifname": "lo"', '"mtu": 65536', '"local": "127.0.0.1"'],
    ),
    item(
        "lsblk_json",
        "json",
        "lsblk -J -o NAME,SIZE,TYPE,MOUNTPOINT,FSTYPE,MODEL",
        "How big is the root disk?",
        ['"name": "vda", "size": "256G"'],
    ),
    item(
        "findmnt_json",
        "json",
        "findmnt -J",
        "Where is /proc mounted and with which options?",
        ['"target": "/proc", "source": "proc", "fstype": "proc", "options": "rw,relatime"'],
    ),
    item(
        "ruff_json",
        "json",
        "ruff check --no-cache --select E,F,W,B,UP --output-format json "
        + SITE
        + "/httpx 2>/dev/null",
        "Which file has the UP031 finding, and on which row?",
        [
            '"code": "UP031"',
            '"filename": "/work/main/.venv/lib/python3.11/site-packages/httpx/_multipart.py"',
        ],
    ),
    item(
        "dumpdata_auth",
        "json",
        f"export DATABASE_URL=sqlite:///{S}/db.sqlite3; python manage.py migrate -v 0 && python manage.py dumpdata auth.permission contenttypes --indent 2",
        "What is the codename of the permission to change a gateway key?",
        ['"name": "Can change gateway key"', '"codename": "change_gatewaykey"'],
        cwd="/work/main",
    ),
    item(
        "node_versions",
        "json",
        "node -p 'JSON.stringify({versions: process.versions, release: process.release, features: process.features, config: process.config}, null, 2)'",
        "Which OpenSSL and V8 versions does node ship?",
        ['"openssl": "3.0.19"', '"v8": "11.3.244.8-node.38"'],
    ),
    item(
        "ss_json_like",
        "json",
        'python -c \'import json,psutil\' 2>/dev/null || python -c \'import json,os; print(json.dumps([{"pid": int(p), "cmd": open(f"/proc/{p}/cmdline","rb").read().replace(b"\\0",b" ").decode(errors="replace").strip()[:200], "status": open(f"/proc/{p}/status").read().split("\\n")[2].split()[1]} for p in sorted(os.listdir("/proc"), key=lambda x: int(x) if x.isdigit() else 0) if p.isdigit()], indent=2))\'',
        "Is the pytest run with --ignore=tests/test_multiworker.py still running, and what is its pid?",
        ['"cmd": ".venv/bin/python -m pytest -q -x --ignore=tests/test_multiworker.py"'],
    ),
    # Search results ------------------------------------------------------------------------
    item(
        "grep_compress_request",
        "search",
        "grep -rn compress_request --include=*.py .",
        "Where does proxy/savings.py call compress_request?",
        [
            "./proxy/savings.py:78:    return compress_request(",
            "./proxy/savings.py:11:from proxy.compression import CompressionResult, compress_request",
        ],
    ),
    item(
        "grep_defs",
        "search",
        "grep -rn '^def \\|^    def ' proxy/compression",
        "Where is thin_array defined?",
        ["proxy/compression/arrays.py:106:def thin_array("],
    ),
    item(
        "grep_settings",
        "search",
        "grep -rn 'settings\\.' --include=*.py . | grep -v tests/",
        "Where is HEADROOM_REQUIRE_KEY read?",
        ["./proxy/checks.py:85:", "./proxy/keys.py:160:        if settings.HEADROOM_REQUIRE_KEY:"],
    ),
    item(
        "grep_django_todo",
        "search",
        "grep -rn 'TODO\\|FIXME' " + SITE + "/django | head -400",
        "Are there TODOs in django/db/models/sql/query.py?",
        [
            "django/db/models/sql/query.py:2680:            # TODO: It might be possible to trim more joins from the start of the"
        ],
    ),
    item(
        "grep_httpx_timeout",
        "search",
        "grep -rn timeout " + SITE + "/httpx",
        "Where does httpx define DEFAULT_TIMEOUT_CONFIG?",
        ["httpx/_config.py:246:DEFAULT_TIMEOUT_CONFIG = Timeout(timeout=5.0)"],
    ),
    item(
        "git_grep_import",
        "search",
        "git grep -n '^import\\|^from'",
        "Which modules import ahocorasick_rs?",
        [
            "proxy/compression/logs.py:15:from ahocorasick_rs import BytesAhoCorasick",
            "proxy/compression/pinning.py:18:from ahocorasick_rs import AhoCorasick, MatchKind",
        ],
    ),
    item(
        "find_pyi",
        "search",
        "find " + SITE + " -name '*.pyi' | sort | head -600",
        "Is there a stub file for orjson?",
        ["site-packages/orjson/__init__.pyi"],
    ),
    item(
        "grep_count",
        "search",
        "grep -rc 'async def' --include=*.py " + SITE + "/django | grep -v ':0$' | sort",
        "How many async defs does django/db/models/query.py have?",
        ["django/db/models/query.py:23"],
    ),
    item(
        "ls_site_packages",
        "search",
        "ls -la " + SITE,
        "Is there a certifi package directory and when was it modified?",
        ["drwxr-xr-x   4 root root   4096 Dec  2 13:11 certifi"],
    ),
    item(
        "grep_class_defs",
        "search",
        "grep -rn '^class ' " + SITE + "/django/db",
        "Where is the class QuerySet defined?",
        ["django/db/models/query.py:279:class QuerySet(AltersData):"],
    ),
    # Git -----------------------------------------------------------------------------------
    item(
        "git_log",
        "git",
        "git log -n 60",
        "When was the commit about Gemini JSON-array streams that break off made?",
        [
            "commit 0836b5267696f8767a2460ed2ad021e25c42cceb",
            "Date:   Sun Nov 22 07:40:46 2026 +0000",
            "Gemini JSON-array streams that break off end with the error",
        ],
        cwd="/work/main",
    ),
    item(
        "git_log_oneline",
        "git",
        "git log --oneline",
        "Which commit added prices for o3-pro?",
        ["0f897f3 Seed prices for o3-pro"],
        cwd="/work/main",
    ),
    item(
        "git_log_stat",
        "git",
        "git log --stat -n 15",
        "Which files did the credential isolation commit change?",
        [
            "Credential isolation: the answers' headers and bodies",
            "tests/test_credential_isolation.py | 14 +++++++++-----",
        ],
        cwd="/work/main",
    ),
    item(
        "git_log_format",
        "git",
        "git log --format='%h %ad %an %s' --date=iso",
        "What is the commit id of the change that tests the response cache on a real Redis?",
        [
            "b966308 2026-11-22 05:13:29 +0000 Seed 4925ce20 maintainers Count a skipped body only when it streams, where an aborted answer needs the estimate; test the response cache on a real Redis"
        ],
        cwd="/work/main",
    ),
    item(
        "git_graph",
        "git",
        "git log --all --graph --decorate --oneline",
        "Which commits are the issue15 and issue16 branches at?",
        ["* 1daa8f0 (issue16)", "| * e77d88f (issue15)"],
        cwd="/work/main",
    ),
    item(
        "git_branches",
        "git",
        "git branch -a -vv",
        "Which commit is the issue15 branch at?",
        ["+ issue15 e77d88f"],
        cwd="/work/main",
    ),
    item(
        "git_show_stat",
        "git",
        "git show --stat HEAD~2",
        "What did the commit two back from HEAD change?",
        [
            "commit a11851baca53d1ece8ab6ff0b171f6cc9ce4dc59",
            "tests/test_credential_isolation.py | 14 +++++++++-----",
        ],
        cwd="/work/main",
    ),
    item(
        "git_blame",
        "git",
        "git blame proxy/savings.py",
        "Which commit last touched the headers() function in proxy/savings.py?",
        [
            "cc830145 (Seed 4925ce20 maintainers 2026-11-22 05:12:24 +0000 117) def headers(exchange: Exchange) -> dict[str, str]:"
        ],
        cwd="/work/main",
    ),
    item(
        "git_log_file",
        "git",
        "git log --follow --format='%h %s' -- proxy/compression/logs.py",
        "Which commits changed proxy/compression/logs.py?",
        [
            "afea781 Log thinning: say which entry a hot line lies in",
            "7bc7bf9 Compression corpus, benchmark and transform tests",
        ],
        cwd="/work/main",
    ),
    # Stack traces --------------------------------------------------------------------------
    item(
        "python_chained",
        "traces",
        "python chained.py",
        "Why does reading the config fail?",
        ["json.decoder.JSONDecodeError", "ValueError: config file billing.toml is not valid JSON"],
        cwd=f"{S}/pyerr",
    ),
    item(
        "java_npe",
        "traces",
        "javac Ledger.java && java Ledger",
        "Why does settle fail for acct-2002?",
        [
            "java.lang.IllegalStateException: no balance for account acct-2002",
            "Caused by: java.lang.NullPointerException",
            "at Ledger.balance(Ledger.java:5)",
        ],
        cwd=f"{S}/jproj",
    ),
    item(
        "node_typeerror",
        "traces",
        "node server.js",
        "Why does parseRoute crash?",
        [
            "TypeError: Cannot read properties of undefined (reading 'replace')",
            "at parseRoute (/tmp/corpus_src/nodeproj/server.js:2:25)",
        ],
        cwd=f"{S}/nodeproj",
    ),
    item(
        "django_operational",
        "traces",
        "python -W ignore manage.py shell -c 'from routing.models import UpstreamRoute; print(UpstreamRoute.objects.get(pk=987654))'",
        "What exception does fetching route 987654 raise?",
        ["django.db.utils.OperationalError: no such table: routing_upstreamroute"],
        cwd="/work/main",
    ),
    item(
        "python_recursion",
        "traces",
        "python walk.py",
        "Where does the RecursionError come from?",
        [
            "RecursionError: maximum recursion depth exceeded",
            'return walk(node.get("child", node), depth)',
            "return visit(node, depth + 1)",
        ],
        cwd=f"{S}/pyerr",
    ),
    item(
        "python_import_error",
        "traces",
        "python -c 'import proxy.compression.nosuchmodule' ",
        "Which module could not be imported?",
        ["ModuleNotFoundError: No module named 'proxy.compression.nosuchmodule'"],
    ),
    # Files and prose an agent reads: must come back byte for byte --------------------------
    item(
        "cat_readme",
        "controls",
        "cat README.md",
        "What does the README say about running the gateway?",
        [],
        control=True,
    ),
    item(
        "cat_compression_readme",
        "controls",
        "cat proxy/compression/README.md",
        "What does lossless mode do?",
        [],
        control=True,
    ),
    item(
        "sed_logs_py",
        "controls",
        "sed -n 1,140p proxy/compression/logs.py",
        "Show me the top of logs.py so I can edit IMPORTANT_NEEDLES.",
        [],
        control=True,
    ),
    item(
        "read_bench",
        "controls",
        WT + "/bench/compression.py",
        "Read bench/compression.py.",
        [],
        tool="Read",
        control=True,
    ),
    item(
        "read_savings",
        "controls",
        "/work/main/proxy/savings.py",
        "Read proxy/savings.py so we can change headers().",
        [],
        tool="Read",
        control=True,
    ),
    item(
        "cat_pyproject",
        "controls",
        "cat pyproject.toml",
        "What ruff rules does the project select?",
        [],
        control=True,
    ),
    item(
        "cat_package_json",
        "controls",
        "cat /tmp/clis/node_modules/@google/gemini-cli/package.json",
        "Which node version does gemini-cli require?",
        [],
        control=True,
    ),
    item(
        "cat_changelog",
        "controls",
        "head -c 60000 /tmp/clis/node_modules/nan/CHANGELOG.md",
        "What changed in nan 2.17?",
        [],
        control=True,
    ),
    item(
        "cat_license",
        "controls",
        "cat /usr/share/common-licenses/Apache-2.0",
        "Does the Apache licence include a patent grant?",
        [],
        control=True,
    ),
    item(
        "cat_python_module",
        "controls",
        "cat " + SITE + "/httpx/_config.py",
        "How does httpx build its default SSL context?",
        [],
        control=True,
    ),
    item(
        "head_django_module",
        "controls",
        "head -n 400 " + SITE + "/django/core/handlers/asgi.py",
        "How does Django's ASGI handler read the request body?",
        [],
        control=True,
    ),
    item(
        "git_diff",
        "controls",
        "git diff HEAD~3 HEAD -- proxy tests | head -c 80000",
        "What changed in the last three commits?",
        [],
        cwd="/work/main",
        control=True,
    ),
]


def run(entry: dict[str, object]) -> str:
    if entry["tool"] == "Read":
        return read_tool(str(entry["command"]))
    env = {**os.environ, "PATH": VENV_BIN + ":" + os.environ["PATH"], "NO_COLOR": "1"}
    done = subprocess.run(
        ["bash", "-c", str(entry["command"])],
        cwd=str(entry["cwd"]),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    return done.stdout + done.stderr


def squeeze(text: str) -> str:
    return "".join(text.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="capture these items again; keep the others")
    parser.add_argument(
        "--manifest", action="store_true", help="rewrite items.json from the captured files only"
    )
    args = parser.parse_args()
    if args.manifest:
        args.only = []
    else:
        write_fixtures()
    manifest_path = HERE / "items.json"
    manifest = []
    for entry in ITEMS:
        name = f"real/{entry['category']}/{entry['id']}.txt"
        if args.only is not None and entry["id"] not in args.only:
            output = (HERE / name).read_text(encoding="utf-8")
            missing = [f for f in entry["facts"] if squeeze(f) not in squeeze(output)]
            if missing:
                print(f"{entry['id']:28} missing facts: {missing}")
            manifest.append({**entry, "file": name})
            continue
        output = run(entry)
        (HERE / name).parent.mkdir(parents=True, exist_ok=True)
        (HERE / name).write_text(output, encoding="utf-8")
        missing = [f for f in entry["facts"] if squeeze(f) not in squeeze(output)]
        print(f"{entry['id']:28} {len(output):8} bytes  missing facts: {missing or '-'}")
        manifest.append({**entry, "file": name})
    manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
