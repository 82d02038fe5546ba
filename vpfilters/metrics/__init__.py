"""Metrics of T/AI 110.2 (cl. 4.3.2, 5): AP/mAP, SSIM, PSNR, KID, BPP, FPS, meta-tasks, and the
compliance report. Submodules stay importable on their own (``vpfilters.metrics.ap`` ...)."""

from vpfilters.metrics.ap import APResult, average_precision, box_iou, coco_ap, voc_ap
from vpfilters.metrics.coverage import CoverageResult, boxes_mask, coverage, mask_coverage
from vpfilters.metrics.features import (
                                        OnnxBackboneFeatures,
                                        TorchFeatures,
                                        default_extractor,
                                        inception_v3_features,
                                        load_state_dict,
)
from vpfilters.metrics.fewshot import (
                                        AnnotatedSet,
                                        Episode,
                                        MetaTaskResult,
                                        YoloxEpisodeDetector,
                                        episode_map,
                                        mean_confidence_interval,
                                        meta_task_map,
                                        sample_episodes,
)
from vpfilters.metrics.fps import FPSResult, machine_info, measure_fps
from vpfilters.metrics.kid import KIDResult, kid, kid_from_features, polynomial_mmd2_unbiased
from vpfilters.metrics.quality import bpp, peak_value, psnr, ssim
from vpfilters.metrics.report import (
                                        THRESHOLDS,
                                        evaluate,
                                        evaluate_images,
                                        evaluate_video,
                                        input_sha256,
                                        outside_quality,
                                        ssim_map,
                                        write_report,
)

__all__ = [
                                        "THRESHOLDS",
                                        "APResult",
                                        "AnnotatedSet",
                                        "CoverageResult",
                                        "Episode",
                                        "FPSResult",
                                        "KIDResult",
                                        "MetaTaskResult",
                                        "OnnxBackboneFeatures",
                                        "TorchFeatures",
                                        "YoloxEpisodeDetector",
                                        "average_precision",
                                        "box_iou",
                                        "boxes_mask",
                                        "bpp",
                                        "coco_ap",
                                        "coverage",
                                        "default_extractor",
                                        "episode_map",
                                        "evaluate",
                                        "evaluate_images",
                                        "evaluate_video",
                                        "inception_v3_features",
                                        "input_sha256",
                                        "kid",
                                        "kid_from_features",
                                        "load_state_dict",
                                        "machine_info",
                                        "mask_coverage",
                                        "mean_confidence_interval",
                                        "measure_fps",
                                        "meta_task_map",
                                        "outside_quality",
                                        "peak_value",
                                        "polynomial_mmd2_unbiased",
                                        "psnr",
                                        "sample_episodes",
                                        "ssim",
                                        "ssim_map",
                                        "voc_ap",
                                        "write_report",
]
