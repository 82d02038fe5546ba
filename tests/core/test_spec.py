"""The filter-spec language: grammar, escapes, errors that name what is wrong."""

import pytest

from vpfilters.core import build, describe, names, parse_spec
from vpfilters.errors import ParameterError, SpecError


def test_grammar_example_from_the_issue():
    f = parse_spec("blur=targets=face+plate:strength=31,hide=payload=@id.bin")
    assert [x.name for x in f] == ["blur", "hide"]
    assert f[0].options == {"targets": "face+plate", "strength": "31"}
    assert f[1].options == {"payload": "@id.bin"}


def test_bare_names_and_whitespace():
    f = parse_spec(" blur , pixelate ")
    assert [(x.name, x.options) for x in f] == [("blur", {}), ("pixelate", {})]


@pytest.mark.parametrize("text,value", [
    (r"hide=text=a\:b\,c", "a:b,c"),
    ("hide=text='a:b,c=d'", "a:b,c=d"),
    (r"hide=text=it\'s", "it's"),
])
def test_escapes_and_quotes(text, value):
    assert parse_spec(text)[0].options["text"] == value


@pytest.mark.parametrize("bad", ["", "   ", "blur,,fill", "blur=strength", "bl ur", "blur=a=1:a=2",
                                 "hide=text='open"])
def test_malformed_specs_raise_spec_error(bad):
    with pytest.raises(SpecError):
        parse_spec(bad)


def test_unknown_protector_lists_the_valid_ones():
    with pytest.raises(SpecError) as e:
        build("nosuch=strength=3")
    msg = str(e.value)
    assert "nosuch" in msg and "blur" in msg and "fill" in msg


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(ParameterError) as e:
        build("blur=strenght=3")
    assert "strenght" in str(e.value) and "strength" in str(e.value)
    assert e.value.parameter == "strenght"


@pytest.mark.parametrize("spec,param", [("blur=strength=-1", "strength"), ("blur=box=1/2/3", "box"),
                                        ("blur=shape=star", "shape"), ("fill=color=nocolour", "color"),
                                        ("blur=box=10/10/5/20", "box")])
def test_bad_option_values_name_the_option(spec, param):
    with pytest.raises(ParameterError) as e:
        build(spec)
    assert e.value.parameter == param


def test_builtins_come_from_entry_points_and_are_described():
    assert {"blur", "pixelate", "fill"} <= set(names())
    d = {x["name"]: x for x in describe()}
    opts = {o["name"]: o for o in d["blur"]["options"]}
    assert opts["feather"]["default"] == 0.0
    assert "box" in opts["shape"]["choices"]
