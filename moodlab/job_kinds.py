"""Every job kind, registered by importing the module that defines its handler."""

import moodlab.crawl  # noqa: F401  crawl
import moodlab.datasets  # noqa: F401  dataset_export
import moodlab.diagnostics  # noqa: F401  worker_check
import moodlab.importer  # noqa: F401  import
import moodlab.music.library  # noqa: F401  music_generate
import moodlab.openverse  # noqa: F401  openverse
import moodlab.training.run  # noqa: F401  train
import moodlab.video.service  # noqa: F401  video
