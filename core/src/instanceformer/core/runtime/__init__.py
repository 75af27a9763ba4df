"""What the stage tools share at run time, without PyTorch at import time.

- :mod:`~instanceformer.core.runtime.process`: this process's rank, local rank and world size.
- :mod:`~instanceformer.core.runtime.device`: the compute device a setting such as ``auto`` names.
- :mod:`~instanceformer.core.runtime.palette` and :mod:`~instanceformer.core.runtime.overlay`: track
  colours and masks with labels drawn over a frame.
- :mod:`~instanceformer.core.runtime.progress`: the Rich progress displays of the commands.
- :mod:`~instanceformer.core.runtime.video`: reading video files and writing H.264 mp4 files.
- :mod:`~instanceformer.core.runtime.image_folder`: a folder of frame images read in natural name order.
- :mod:`~instanceformer.core.runtime.frame_size`: frame sizes written ``WIDTHxHEIGHT``.

Modules are imported one by one; this package imports none of them.
"""
