"""Attachment names are normalised before anything is stored (issue 13, 6)."""
from __future__ import annotations

from services.attachments import normalised_name


def test_a_windows_path_keeps_only_its_last_part():
    # Through HTTP the multipart parser unescapes backslashes first; old browsers sent the whole path.
    assert normalised_name("C:\\Users\\ivanov\\Отчёт.PDF") == ("Отчёт.pdf", "pdf")
    assert normalised_name("..\\..\\a.exe ") == ("a.exe", "exe")
    assert normalised_name('"кавычки".pdf') == ("_кавычки_.pdf", "pdf")
