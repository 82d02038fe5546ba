"""The compliance report on small real inputs: numbers in the HTML/Markdown tables equal the JSON,
outside-region quality by hand and against skimage, and clear errors for bad input."""

import json
import math
import os
from html.parser import HTMLParser

import numpy as np
import pytest

from vpfilters.core import register
from vpfilters.errors import FormatError, InputError, ParameterError, SpecError
from vpfilters.metrics.quality import ssim
from vpfilters.metrics.report import (
    evaluate,
    evaluate_images,
    evaluate_video,
    outside_quality,
    ssim_map,
    write_report,
)
from vpfilters.protect.mask import Blur, Fill, Pixelate

pytest.importorskip("av")
pytest.importorskip("matplotlib")

for _cls in (Blur, Pixelate, Fill):  # without an installed package the entry points are absent
    register(_cls)


class Tables(HTMLParser):
    """Every <table id=...> as a list of rows of cell texts (header row included)."""

    def __init__(self):
        super().__init__()
        self.tables, self.images = {}, []
        self._tid = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._tid = a.get("id")
            self.tables[self._tid] = []
        elif tag == "tr" and self._tid:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
        elif tag == "img":
            self.images.append(a.get("src", ""))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._tid].append(self._row)
            self._row = None
        elif tag == "table":
            self._tid = None


def _same(cell: str, value) -> bool:
    if value is None:
        return cell == "—"
    if isinstance(value, bool):
        return cell == ("yes" if value else "no")
    if isinstance(value, (int, float)):
        return float(cell) == value
    return cell == str(value)


def _check_report(paths, rep):
    with open(paths["json"], encoding="utf-8") as fh:
        js = json.load(fh)
    parser = Tables()
    with open(paths["html"], encoding="utf-8") as fh:
        parser.feed(fh.read())
    parser.close()
    t = parser.tables
    header, *rows = t["clauses"]
    assert header[:6] == ["clause", "metric", "value", "unit", "threshold", "result"]
    assert len(rows) == len(js["clauses"]) > 0
    for row, c in zip(rows, js["clauses"]):
        for col, cell in zip(header, row):
            assert _same(cell, c[col]), (col, cell, c[col])
    fh, *frows = t["fps"]
    for row, r in zip(frows, js["metrics"]["fps"]["per_resolution"]):
        assert float(row[fh.index("fps")]) == r["fps"]
    ph, *prow = t["per_frame"]
    assert len(prow) == len(js["per_frame"]["index"])
    for k, row in enumerate(prow):
        for col, cell in zip(ph, row):
            assert _same(cell, js["per_frame"][col][k]), (col, k)
    _, *qrows = t["quality"]
    for name, cell in qrows:
        assert _same(cell, js["metrics"]["quality"][name]), name
    assert any(s.startswith("data:image/png;base64,") for s in parser.images)
    for p in paths["plots"]:
        with open(p, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(paths["md"], encoding="utf-8") as fh:
        md = fh.read()
    for c in js["clauses"]:
        assert f"| {c['clause']} | {c['metric']} |" in md
    assert js["input"]["sha256"] and len(js["input"]["sha256"]) == 64
    v = js["reproducibility"]["versions"]
    assert {"vpfilters", "numpy", "av", "python"} <= set(v)
    assert js["reproducibility"]["machine"]["cores"] and js["spec"] == rep["spec"]
    return js, t


@pytest.fixture(scope="module")
def clip(shared_data):
    p = os.path.join(shared_data, "intel_sample_videos", "asl_gestures", "walk.mkv")
    if not os.path.isfile(p):
        pytest.skip("walk.mkv not found")
    return p


def test_video_report_tables_equal_the_json(clip, tmp_path):
    rep = evaluate_video(clip, "blur=box=100/100/300/300:feather=3", max_frames=10,
                         ssim_frames=4, fps_frames=4, fps_repeat=2, resolutions=["320x240"],
                         kid=True, kid_frames=4)
    paths = write_report(rep, tmp_path / "rep")
    js, _ = _check_report(paths, rep)
    assert js["input"]["frames_evaluated"] == 10
    assert [r["resolution"] for r in js["metrics"]["fps"]["per_resolution"]] == \
        ["640x480 (native)", "320x240"]
    assert {os.path.basename(p) for p in paths["plots"]} == {"fps.png", "quality.png"}
    q = js["metrics"]["quality"]
    assert q["ssim_frames"] == 4 and q["ssim_stride"] == 3
    # feathering reaches outside the box: outside quality is high but not lossless
    assert 30 < q["psnr_outside_mean"] < 80 and 0.9 < q["ssim_outside_mean"] < 1
    assert q["psnr_mean"] < q["psnr_outside_mean"] and q["ssim_mean"] < q["ssim_outside_mean"]
    rows = {c["metric"]: c for c in js["clauses"]}
    assert rows["FPS at 640x480 (native)"]["clause"] == "4.3.2"
    assert rows["FPS at 640x480 (native)"]["result"] in ("pass", "fail")
    assert rows["SSIM, luma, whole frame (mean)"]["result"] == "pass"
    kid = js["metrics"]["kid"]
    assert kid["indicative"] and "yolox_nano" in kid["extractor"]
    assert rows["KID x100 (original vs protected)"]["note"].startswith("indicative")
    assert any("masking" in n for n in js["notes"])


def test_annotated_set_report_has_ap_and_pr_curve(shared_data, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("cv2")
    folder = os.path.join(shared_data, "face_mask_detection")
    rep = evaluate_images(folder, "fill=box=0/0/40/40", max_images=6, targets=["face"],
                          fps_frames=3, fps_repeat=2)
    paths = write_report(rep, tmp_path / "rep")
    js, t = _check_report(paths, rep)
    ap = js["metrics"]["ap"]["per_target"]["face"]
    assert 0.3 < ap["ap"] <= 1 and ap["n_gt"] > 6 and ap["ground_truth"] == "all boxes"
    ah, *arows = t["ap"]
    assert float(arows[0][ah.index("ap")]) == ap["ap"]
    assert "pr_curve.png" in {os.path.basename(p) for p in paths["plots"]}
    assert js["metrics"]["quality"]["psnr_outside_inf_frames"] == 6   # fill: outside untouched
    rows = {c["metric"]: c for c in js["clauses"]}
    assert rows["mAP@0.5 over targets"]["value"] == ap["ap"]


def test_ap_hook_without_targets(shared_data):
    folder = os.path.join(shared_data, "dlib_faces_voc")
    rep = evaluate(folder, "fill=box=0/0/20/20", max_images=2, fps_frames=2, fps_repeat=1)
    assert "targets" in rep["metrics"]["ap"]["hook"]
    assert any(c["metric"] == "mAP@0.5" and c["result"] == "n/a" for c in rep["clauses"])


def test_outside_quality_by_hand():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    b = a.copy()
    b[10:20, 10:20] = 0
    q = outside_quality(a, b, [10, 10, 20, 20])
    assert q["psnr_outside"] == math.inf and q["ssim_outside"] == 1.0
    assert q["psnr"] < 30 and q["ssim"] < 1
    assert q["outside_fraction"] == pytest.approx(1 - 100 / 2000)
    b[0, 0] = a[0, 0] ^ 1                      # one changed pixel outside
    q = outside_quality(a, b, [[10, 10, 20, 20]])
    assert q["psnr_outside"] == pytest.approx(10 * np.log10(255 ** 2 * 1900), abs=1e-9)
    assert q["ssim_outside"] < 1
    assert outside_quality(a, b, np.zeros((0, 4)))["psnr_outside"] == q["psnr"]


def test_ssim_map_matches_skimage(shared_data):
    skm = pytest.importorskip("skimage.metrics")
    Image = pytest.importorskip("PIL.Image")
    import glob

    f = min(glob.glob(os.path.join(shared_data, "kodak24", "*.png")))
    a = np.asarray(Image.open(f).convert("L"))
    b = np.clip(a + np.random.default_rng(1).normal(0, 8, a.shape), 0, 255).astype(np.uint8)
    m = ssim_map(a, b)
    _, full = skm.structural_similarity(a, b, full=True, data_range=255)
    np.testing.assert_allclose(m, full[3:-3, 3:-3], atol=1e-4)
    assert m.mean() == pytest.approx(ssim(a, b), abs=1e-12)


def test_bad_input_gives_typed_errors(tmp_path, clip):
    with pytest.raises(InputError):
        evaluate(tmp_path / "missing.mp4", "blur=box=0/0/8/8")
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    with pytest.raises(InputError):
        evaluate(junk, "blur=box=0/0/8/8")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError):
        evaluate(tmp_path / "empty", "blur=box=0/0/8/8")
    with pytest.raises(FormatError):
        outside_quality(np.zeros((8, 8), np.uint8), np.zeros((8, 9), np.uint8), [])
    with pytest.raises(FormatError):
        ssim_map(np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(ParameterError):
        evaluate_video(clip, "blur=box=0/0/8/8", resolutions=["big"])
    with pytest.raises(SpecError):
        evaluate_video(clip, "nosuchfilter=x=1")


def test_cli_eval_end_to_end_and_missing_weights(clip, tmp_path, monkeypatch, capsys):
    from vpfilters import cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", ("vpfilters.cli_eval",))
    monkeypatch.setattr(cli, "COMMANDS", {})
    out = tmp_path / "r"
    rc = cli.main(["eval", clip, "-f", "pixelate=box=0/0/64/64", "--out", str(out),
                   "--max-frames", "6", "--ssim-frames", "2", "--fps-frames", "3",
                   "--fps-repeat", "1", "--no-progress"])
    assert rc == 0
    line = capsys.readouterr().out
    assert "vpf eval: 6 frames" in line and str(out / "report.html") in line
    assert (out / "report.json").is_file() and (out / "report.md").is_file()
    rc = cli.main(["eval", clip, "-f", "blur=box=0/0/8/8", "--out", str(tmp_path / "x"),
                   "--kid", "--inception-weights", str(tmp_path / "inception.pth")])
    err = capsys.readouterr().err
    assert rc == 1 and "weights file not found" in err
    rc = cli.main(["eval", clip, "-f", "blur=box=0/0/8/8", "--out", str(tmp_path / "y"),
                   "--fps-repeat", "0"])
    assert rc == 2


def test_capacity_row_from_payload_bits(shared_data):
    from vpfilters.core import Protector

    @register
    class PayloadProbe(Protector):
        name = "payload_probe"

        def process(self, frame, ctx):
            frame.props["VPFPayloadBits"] = 4096
            return frame

    folder = os.path.join(shared_data, "dlib_faces_voc")
    rep = evaluate(folder, "payload_probe", max_images=2, fps_frames=2, fps_repeat=1)
    sizes = [4096 / (w * h) for w, h in _sizes(folder, 2)]
    assert rep["metrics"]["bpp"]["mean"] == pytest.approx(np.mean(sizes), rel=1e-5)
    row = next(c for c in rep["clauses"] if c["metric"].startswith("capacity"))
    assert row["result"] == "info" and row["unit"] == "bit/pixel"


def _sizes(folder, n):
    with open(os.path.join(folder, "gt_boxes.json"), encoding="utf-8") as fh:
        items = json.load(fh)["images"][:n]
    return [(it["width"], it["height"]) for it in items]


def test_hiding_report_checks_complete_extraction(clip, tmp_path):
    rep = evaluate_video(clip, "hide=payload=vpf-0042", max_frames=6, ssim_frames=3,
                         fps_frames=3, fps_repeat=1)
    rows = {c["metric"]: c for c in rep["clauses"]}
    row = rows["hidden data extracted completely (share of frames)"]
    assert row["clause"] == "6.3" and row["value"] == 1 and row["result"] == "pass"
    assert rep["metrics"]["extraction"]["frames"] == 3  # one frame in ssim_stride (2)
    assert rows["capacity (BPP, mean)"]["value"] > 0


def test_rescale_report_checks_the_authorised_restore(clip, tmp_path):
    from vpfilters.protect._restore_data import generate_key

    key = generate_key(tmp_path / "k.key")
    spec = f"rescale=factor=2:restore=exact:key={key}:data={tmp_path / 'r.vpfr'}"
    rep = evaluate_video(clip, spec, max_frames=6, ssim_frames=3, fps_frames=3, fps_repeat=1)
    rows = {c["metric"]: c for c in rep["clauses"]}
    row = rows["authorised exact restore: luma bit-exact (share of frames)"]
    assert row["clause"] == "4.3.1, 6.5" and row["value"] == 1 and row["result"] == "pass"
    assert rep["metrics"]["restore"]["frames"] == 3 and rep["metrics"]["restore"]["psnr_min"] == "inf"
    paths = write_report(rep, tmp_path / "rep")
    _check_report(paths, rep)
