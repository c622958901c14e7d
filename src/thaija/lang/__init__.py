"""The language layer: detect, normalize, segment, sentences, chunk (offsets into the original text).

>>> from thaija.lang import detect, segment, chunk
>>> detect("ราคา iPhone 15 は 12万円 ครับ").lang
'th'
"""
from thaija.lang.chunk import Chunk, ChunkConfig, chunk
from thaija.lang.detect import Detection, Span, detect, detect_lang
from thaija.lang.normalize import Normalized, normalize
from thaija.lang.profiles import Profile, get_profile
from thaija.lang.segment import Token, segment, tokenize
from thaija.lang.sentences import Sentence, sentences
from thaija.lang.stream import chunk_stream, normalize_stream, segment_stream, sentences_stream

__all__ = [
    "Chunk", "ChunkConfig", "Detection", "Normalized", "Profile", "Sentence", "Span", "Token",
    "chunk", "chunk_stream", "detect", "detect_lang", "get_profile", "normalize", "normalize_stream", "segment",
    "segment_stream", "sentences", "sentences_stream", "tokenize",
]
