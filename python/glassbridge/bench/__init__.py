"""Benchmarks of glassbridge's native kernels and perception pipeline (`glassbridge bench`).

Modules, one job each:

* harness: interleaved rounds, warm-up, medians (knows nothing of images)
* cases, geometry, synthetic: the jobs the models ask for, and realistic NV12/RGB frames to do them on
* contenders (+ opencv, numpy_fused, libyuv, normalise): every way of doing a job, each with the accuracy it
  promises; accuracy: the check against the float64 reference, in output steps
* preprocess, vision: the two benchmarks, returning JSON documents; report, plot: tables, Markdown, PNG
* aliasing: the face detector's score swing under small frame shifts and its recall per face size, per resize
  mode (its own tables and chart)
* callgrind: the driver behind scripts/callgrind_preprocess.sh (instructions per frame)
* machine: what machine and software the figures come from

docs/benchmarks.md explains the method and shows the figures. OpenCV and matplotlib (the `bench` extra) are
imported only by the modules that need them.
"""
