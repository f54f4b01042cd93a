"""Recompute published randomized-smoothing numbers from the authors' own per-sample logs."""

import pytest

from curator.core.errors import CuratorError
from curator.verify.cohen_log import certified_accuracy, read_log

COHEN = "artifacts/smoothing-logs/cohen2019"
SALMAN = "artifacts/smoothing-logs/salman2019/cifar10-cohen-models/resnet110"


@pytest.mark.parametrize("log, radius, expected", [
    # Cohen et al. 2019, CIFAR-10 ResNet-110, 500 images (every 20th)
    ("cifar10/resnet110/noise_0.25/test/sigma_0.25", 0.25, 60.0),
    ("cifar10/resnet110/noise_0.25/test/sigma_0.25", 0.5, 42.8),
    # sigma 0.50: 55/41/32/23/15/9% at r = 0.25 ... 1.5
    ("cifar10/resnet110/noise_0.50/test/sigma_0.50", 0.25, 55.0),
    ("cifar10/resnet110/noise_0.50/test/sigma_0.50", 0.5, 41.0),
    ("cifar10/resnet110/noise_0.50/test/sigma_0.50", 0.75, 32.0),
    ("cifar10/resnet110/noise_0.50/test/sigma_0.50", 1.0, 23.0),
    ("cifar10/resnet110/noise_0.50/test/sigma_0.50", 1.25, 15.0),
    ("cifar10/resnet110/noise_0.50/test/sigma_0.50", 1.5, 9.0),
    # ImageNet ResNet-50, sigma 0.5 (every 100th image): 57/46/37/29% at r = 0, 0.5, 1.0, 1.5 (the log's own
    # figures; shared/README.md labels them r = 0.5 ... 2, but the log certifies 0% at r = 2)
    ("imagenet/resnet50/noise_0.50/test/sigma_0.50", 0.0, 57.0),
    ("imagenet/resnet50/noise_0.50/test/sigma_0.50", 0.5, 46.0),
    ("imagenet/resnet50/noise_0.50/test/sigma_0.50", 1.0, 37.0),
    ("imagenet/resnet50/noise_0.50/test/sigma_0.50", 1.5, 29.0),
])
def test_cohen_published_numbers(shared, log, radius, expected):
    rows = read_log(shared / COHEN / log)
    iv = certified_accuracy(rows, radius)
    # the paper rounds to whole percents; the 0.5 case of sigma 0.25 is the exact 42.8% of the log
    if expected == 42.8 or expected == 60.0:
        assert iv.value == pytest.approx(expected, abs=1e-9)
    else:
        assert round(iv.value) == expected
    assert iv.lower <= iv.value <= iv.upper


def test_cohen_log_sizes(shared):
    assert len(read_log(shared / COHEN / "cifar10/resnet110/noise_0.25/test/sigma_0.25")) == 500
    assert len(read_log(shared / SALMAN / "noise_0.25/test/sigma_0.25")) == 10000


def test_bad_log_is_a_clear_error(tmp_path):
    p = tmp_path / "log"
    p.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t3\t3\tx\t1\t1.0\n")
    with pytest.raises(CuratorError, match="line 2"):
        read_log(p)
    p.write_text("a\tb\n")
    with pytest.raises(CuratorError, match="header"):
        read_log(p)


def test_salman_envelope_of_cohen_models_on_all_10000(shared):
    # Salman et al. 2019 report the best of Cohen's four CIFAR-10 models at each radius
    published = [61, 43, 32, 22, 17, 13, 10, 7, 4]
    logs = [read_log(shared / SALMAN / f"noise_{s}/test/sigma_{s}") for s in ("0.12", "0.25", "0.50", "1.00")]
    radii = [0.25 * (i + 1) for i in range(9)]
    envelope = [max(certified_accuracy(rows, r).value for rows in logs) for r in radii]
    assert [round(v) for v in envelope] == published
