"""Videos with music that fits their mood: the paper's application (Cho et al. 2019, Fig. 4).

probe      what ffmpeg says about a file (streams, codec, duration, rotation)
frames     frames sampled through ffmpeg at the model's input size, in fixed batches
timeline   the model's probabilities per sample; the mood decision
scenes     scene cuts from ffmpeg's scene score; segments of at least ~8 s
soundtrack which track fits a mood; the soundtrack rendered to the video's length
mux        the video stream copied as it is, with the new AAC audio
slideshow  photos to an H.264 video with crossfades
service    make_video: all of it as one job, recorded with its provenance
"""
