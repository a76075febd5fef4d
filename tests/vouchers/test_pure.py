"""Pure helpers: codes (generation, check character, normalising) and CSV reading/writing."""

from __future__ import annotations

import io
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wellness.vouchers import codes, csvimport
from wellness.vouchers.csvimport import BadRow, MemberRef

# ----------------------------------------------------------------------------- codes


def test_alphabet_has_no_look_alikes_and_codes_carry_enough_randomness():
    assert len(set(codes.ALPHABET)) == 32
    assert not set("0O1I") & set(codes.ALPHABET)
    assert codes.RANDOM_BITS == codes.BODY_LENGTH * math.log2(len(codes.ALPHABET)) >= 64


def test_generated_codes_are_valid_distinct_and_grouped():
    batch = codes.generate_codes(5000)
    assert len(set(batch)) == 5000
    assert all(len(c) == 16 and codes.is_valid(c) for c in batch)
    shown = codes.display(batch[0])
    assert len(shown) == 19 and shown.count("-") == 3
    assert codes.normalise(shown) == batch[0]


def test_every_symbol_appears_in_every_position():
    """Bulk generation must not bias symbols (base32 of random bytes is uniform)."""
    batch = codes.generate_codes(4000)
    for position in range(codes.BODY_LENGTH):
        assert {c[position] for c in batch} == set(codes.ALPHABET)


@given(st.integers(min_value=0, max_value=15), st.sampled_from(codes.ALPHABET))
@settings(max_examples=200, deadline=None)
def test_any_single_wrong_character_is_caught(position, symbol):
    code = codes.generate_codes(1)[0]
    if code[position] == symbol:
        return
    typo = code[:position] + symbol + code[position + 1 :]
    assert not codes.is_valid(typo)
    with pytest.raises(codes.CodeError) as caught:
        codes.normalise(typo)
    assert caught.value.kind == "check"


def test_swapped_neighbours_are_caught_except_2_and_z():
    missed = set()
    for code in codes.generate_codes(2000):
        for i in range(15):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
                if codes.is_valid(swapped):
                    missed.add(frozenset(code[i : i + 2]))
    assert missed <= {frozenset("2Z")}


def test_check_symbol_matches_a_slow_reference_luhn_mod_n():
    def reference(body: str) -> str:
        factor, total, n = 2, 0, 32
        for char in reversed(body):
            addend = factor * codes.ALPHABET.index(char)
            factor = 1 if factor == 2 else 2
            total += addend // n + addend % n
        return codes.ALPHABET[(n - total % n) % n]

    for code in codes.generate_codes(500):
        assert code[-1] == reference(code[:-1]) == codes.check_symbol(code[:-1])


@pytest.mark.parametrize(
    "typed",
    [
        "{c}",
        "{d}",
        "  {d}  ",
        "{d_lower}",
        "{c_spaced}",
        "{fullwidth}",
        "https://wellness.example.cn/vouchers/v/{d}",
        "https://wellness.example.cn/vouchers/v/{d}?utm=x",
    ],
)
def test_normalise_accepts_what_people_type_and_scanners_read(typed):
    code = codes.generate_codes(1)[0]
    shown = codes.display(code)
    fullwidth = "".join(chr(ord(ch) + 0xFEE0) for ch in shown.replace("-", ""))
    text = typed.format(
        c=code,
        d=shown,
        d_lower=shown.lower(),
        c_spaced=" ".join(shown.split("-")),
        fullwidth=fullwidth,
    )
    assert codes.normalise(text) == code


@pytest.mark.parametrize("bad", ["", "ABC", "0" * 16, "I" * 16, "x" * 400, "ÄÖÜ", None, 42])
def test_normalise_rejects_malformed_input_as_format(bad):
    with pytest.raises(codes.CodeError) as caught:
        codes.normalise(bad)
    assert caught.value.kind == "format"


def test_chunked_is_lazy():
    def endless():
        n = 0
        while True:
            n += 1
            yield n

    chunks = codes.chunked(endless(), 3)
    assert next(chunks) == [1, 2, 3]
    assert next(chunks) == [4, 5, 6]


# ----------------------------------------------------------------------------- CSV in


def parse(data: bytes):
    reader = csvimport.read_members(io.BytesIO(data))
    return list(reader), reader


def test_utf8_with_bom_header_crlf_blank_lines_and_extra_columns():
    data = (
        "\ufeff姓名,手机号,备注\r\n王伟,139 0000 0000,\r\n\r\n李娜,+86-139-0000-0001,x\r\n,,\r\n"
    ).encode()
    items, reader = parse(data)
    assert items == [
        MemberRef(2, "phone", "+8613900000000", "139 0000 0000"),
        MemberRef(4, "phone", "+8613900000001", "+86-139-0000-0001"),
    ]
    assert reader.header == ["姓名", "手机号", "备注"]
    assert reader.blank_lines == 2


def test_utf8_without_bom_and_no_header():
    items, reader = parse(b"13900000000\n13900000001\n")
    assert [i.value for i in items] == ["+8613900000000", "+8613900000001"]
    assert [i.line for i in items] == [1, 2]
    assert reader.header is None


def test_member_ids_and_a_member_id_header():
    items, _reader = parse("会员号\n42\n 7 \nabc\n".encode())
    assert items[:2] == [MemberRef(2, "member_id", "42", "42"), MemberRef(3, "member_id", "7", "7")]
    assert items[2] == BadRow(4, "abc", csvimport.INVALID)


def test_every_bad_row_is_reported_with_its_line_number():
    data = (
        (
            "手机号\n"
            "13900000000\n"
            '=HYPERLINK("http://evil","x")\n'  # a formula is just not a phone number
            "1.39E+10\n"  # Excel's scientific notation
            "12345678901\n"  # not a mainland mobile
            "\n"
            ",note without a number\n"
        ).encode()
        + "王五\n".encode("gbk")
        + b"13900000001\n"
    )
    items, reader = parse(data)
    bad = [(i.line, i.problem) for i in items if isinstance(i, BadRow)]
    assert bad == [
        (3, csvimport.INVALID),
        (4, csvimport.SCIENTIFIC),
        (5, csvimport.INVALID),
        (7, csvimport.EMPTY),
        (8, csvimport.ENCODING),
    ]
    good = [(i.line, i.value) for i in items if isinstance(i, MemberRef)]
    assert good == [(2, "+8613900000000"), (9, "+8613900000001")]
    assert reader.blank_lines == 1


def test_utf16_file_is_one_clear_problem():
    items, _reader = parse("手机号\n13900000000\n".encode("utf-16"))
    assert items == [BadRow(1, "", csvimport.UTF16)]


def test_an_absurdly_long_line_is_one_bad_row():
    data = b"13900000000\n" + b"9" * 10_000 + b"\n13900000001\n"
    items, _reader = parse(data)
    assert [type(i).__name__ for i in items] == ["MemberRef", "BadRow", "MemberRef"]
    assert items[1].problem == csvimport.TOO_LONG
    assert [i.line for i in items] == [1, 2, 3]


def test_reader_streams_instead_of_reading_everything():
    class Counting(io.BytesIO):
        def read(self, *a):  # pragma: no cover - the reader must use readline
            raise AssertionError("read() would load the whole file")

    stream = Counting(b"13900000000\n" * 10)
    assert len(list(csvimport.read_members(stream))) == 10


def test_members_from_list_uses_positions():
    items = list(csvimport.members_from_list(["13900000000", "", "nope", "8"]))
    assert items[0] == MemberRef(0, "phone", "+8613900000000", "13900000000")
    assert (items[1].line, items[1].problem) == (1, csvimport.EMPTY)
    assert (items[2].line, items[2].problem) == (2, csvimport.INVALID)
    assert items[3] == MemberRef(3, "member_id", "8", "8")


# ----------------------------------------------------------------------------- CSV out


def test_export_has_bom_and_neutralises_formulas():
    data = csvimport.to_csv_bytes(["批次", "n"], [["=cmd|' /C calc'!A0", 3], ["@SUM(1)", -2]])
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "'=cmd" in text and "'@SUM(1)" in text
    assert "\r\n" in text
    assert ",-2" in text  # plain numbers stay numbers
