"""The context store (docs/memory.md): ChromaDB under `$ASSIST_HOME/memory/`, or a Chroma server by URL
(`[memory] url = "http://127.0.0.1:8000"`), with the same offline MiniLM embedder as `assist classify`.

The embedder is passed to every collection call (chroma's own default would download a model); the
vectors of added chunks are computed here in batches. Chunk ids derive from the source and position, so
adding a file again replaces its chunks instead of duplicating them. A collection records its encoder
and is embedded again when that changes. Chroma's telemetry is off.

Chroma's local client keeps its index in memory and does not see what other processes write. So a local
store is written under a file lock (memory/.write.lock), each write changes a stamp (memory/.changed),
and a process whose stamp is out of date opens the store again, under the same lock, before it reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from ..errors import AssistError, ConfigError, NotFound, Unavailable
from .chunking import chunks, title_of

if TYPE_CHECKING:
    from ..config import Config

TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".rst", ".org"}
BINARY_SNIFF = 8192  # a NUL byte in a file's first bytes: not text (as git and grep tell)
DEFAULT_COLLECTION = "notes"
SPARE = ".embedded-again"  # suffix of the collection filled with new vectors when the encoder changed
ADD_BATCH = 256
STAMP = ".changed"  # under memory/: a new token after each write
WRITE_LOCK = ".write.lock"
LOCK_TIMEOUT_S = 600  # the longest wait for another process's write (a large `memory add`)
# chroma's defaults (100, 100, 16) found 13 of the 20 test notes among 10,000 texts where exact search
# finds 18; these find 16, for ~10% slower adds and +0.2 ms per query
HNSW = {"space": "cosine", "ef_construction": 200, "ef_search": 200, "max_neighbors": 32}
# what chroma says of a damaged store: SQLite's "file is not a database" (26) or "malformed" (11)
DAMAGED_STORE = re.compile(r"\(code: (26|11)\)|file is not a database|disk image is malformed")
KEYWORDS = 2  # the query's longest keywords looked up in the full-text index
KEYWORD_CANDIDATES = 20  # per keyword
KEYWORD_WEIGHT = 0.3  # bonus for a chunk holding all the query's keywords, on top of cosine similarity
_STOPWORDS = """a an the is are was were be been am do does did i me my we our us you your he she it its they
them their what when where who whom which how why that this these those of in on at to for from with by about and
or not no can could should would will shall may might must have has had any some there here than then so if as
into over under up down out off again very just also too please"""
STOPWORDS = frozenset(_STOPWORDS.split())


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+|[0-9]+", text.lower())


def keywords(text: str) -> list[str]:
    return [w for w in _tokens(text) if len(w) >= 2 and w not in STOPWORDS]


def keyword_share(wanted: list[str], doc: str) -> float:
    """The share of the query's keywords in the chunk (a word counts if the chunk has one of the same
    first five letters: plant, planted, planting)."""
    if not wanted:
        return 0.0
    stems = {w[:5] for w in _tokens(doc)}
    return sum(1 for w in wanted if w[:5] in stems) / len(wanted)


class MemoryDamaged(Unavailable):
    """The local store cannot be read: what uses it as context goes on without it (ai/prompting.py)."""


@dataclass
class Chunk:
    id: str
    text: str
    source: str
    title: str = ""
    index: int = 0


def _embedded(title: str, text: str) -> str:
    """What a chunk's vector is made from."""
    return f"{title}\n{text}" if title else text


def _collection_names(client: Any) -> set[str]:
    return {collection.name for collection in client.list_collections()}


def _chunk_id(source: str, index: int) -> str:
    return f"{hashlib.sha1(source.encode()).hexdigest()[:16]}-{index}"


def file_chunks(path: Path) -> tuple[list[Chunk], list[str]]:
    """A text or Markdown file's chunks; a .jsonl file gives one or more chunks per line
    (`{"text": ..., "id"?: ..., "title"?: ...}`). With them, what was left out ("FILE: line N: ...": the
    good lines of a file go in without the bad ones; "FILE: not a text file": a PDF's bytes are no note)."""
    source = str(path.resolve())
    if path.suffix == ".jsonl":
        out: list[Chunk] = []
        bad: list[str] = []
        seen: dict[str, int] = {}  # id: the line that has it
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                row = None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                bad.append(f'{path}: line {number}: expected {{"text": "..."}} (an object with a text string)')
                continue
            key = str(row.get("id", number))
            if key in seen:
                bad.append(f"{path}: line {number}: the id {key!r} of line {seen[key]} again (ids are one a line)")
                continue
            seen[key] = number
            base = f"{source}:{key}"
            for i, piece in enumerate(chunks(row["text"])):
                out.append(Chunk(_chunk_id(base, i), piece, base, str(row.get("title", "")), i))
        return out, bad
    raw = path.read_bytes()
    if b"\x00" in raw[:BINARY_SNIFF]:
        return [], [f"{path}: not a text file (a PDF, an image, an archive?): left out"]
    text = raw.decode("utf-8", errors="replace")
    title = title_of(text, path.stem)
    return [Chunk(_chunk_id(source, i), piece, source, title, i) for i, piece in enumerate(chunks(text))], []


def collect(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Files to add: the given files, and the text files under the given folders (hidden ones skipped);
    and what was left out: a link under a folder to a file outside it (a cloned repository or an
    unpacked archive can carry `notes.md -> ~/.ssh/id_rsa`, and what is added here is read into prompts)."""
    found: list[Path] = []
    left_out: list[str] = []
    for path in paths:
        if path.is_dir():
            folder = path.resolve()
            for p in sorted(path.rglob("*")):
                if not p.is_file() or p.suffix not in TEXT_SUFFIXES | {".jsonl"} or any(
                        part.startswith(".") for part in p.relative_to(path).parts):
                    continue
                if p.is_symlink() and folder not in p.resolve().parents:
                    left_out.append(f"{p}: a link to a file outside {path}, left out (add the file itself to have it)")
                    continue
                found.append(p)
        elif path.is_file():
            found.append(path)
        else:
            raise NotFound(f"{path}: no such file or folder")
    files, seen = [], set()  # a file named twice, or in a folder and by name, or linked to: once
    for p in found:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            files.append(p)
    return files, left_out


_embedding_class: Any = None


def _embedding_function(embedder: Any) -> Any:
    """Our MiniLM embedder as a chroma embedding function, registered under the name stored with the
    collection, so chroma never reaches for its own (downloading) default."""
    global _embedding_class
    if _embedding_class is None:
        from chromadb.api.types import EmbeddingFunction
        from chromadb.utils.embedding_functions import register_embedding_function

        class AssistMiniLM(EmbeddingFunction):
            def __init__(self, embedder: Any = None) -> None:
                if embedder is None:
                    from ..decide.embedder import shared

                    embedder = shared()
                self.embedder = embedder

            def __call__(self, input: list[str]) -> Any:
                return list(self.embedder.embed(list(input)))

            @staticmethod
            def name() -> str:
                return "assist-minilm"

            def get_config(self) -> dict[str, Any]:
                return {}

            @staticmethod
            def build_from_config(config: dict[str, Any]) -> Any:
                return AssistMiniLM()

            def default_space(self) -> Any:
                return "cosine"

        _embedding_class = register_embedding_function(AssistMiniLM)
    return _embedding_class(embedder)


class Memory:
    def __init__(self, config: Config, collection: str | None = None):
        section = config.section("memory")
        self.config = config
        self.url: str | None = section.get("url")
        self.path = config.home / "memory"
        self.collection_name = collection or section.get("collection", DEFAULT_COLLECTION)
        self._client: Any = None
        self._collection: Any = None
        self._embedder: Any = None
        self._seen: bytes | None = None  # the stamp when the store was opened or last written here
        self._lock: Any = None
        self._damaged: MemoryDamaged | None = None  # the local store found damaged, once
        self._threads = threading.RLock()  # `assist work -j N` shares one store between its workers
        if self.url:
            from ..net import require_local

            require_local(self.url, config, "memory.url")

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from ..decide.embedder import configured

            self._embedder = configured(self.config)
        return self._embedder

    def client(self) -> Any:
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        try:
            import chromadb
            from chromadb.config import Settings
        except ImportError:
            raise ConfigError(["the context store needs the memory extra: pip install 'assist[memory]'"]) from None
        settings = Settings(anonymized_telemetry=False)
        if self.url:
            parts = urlsplit(self.url)
            return chromadb.HttpClient(host=parts.hostname or "127.0.0.1", port=parts.port or 8000,
                                       ssl=parts.scheme == "https", settings=settings)
        self.path.mkdir(parents=True, exist_ok=True)
        if self._damaged is not None:  # chroma keeps a half-made client for the path: not asked again
            raise self._damaged
        try:
            return chromadb.PersistentClient(path=str(self.path), settings=settings)
        except Exception as exc:  # chroma's InternalError, naming SQLite's code
            if not DAMAGED_STORE.search(str(exc)):
                raise
            self._damaged = MemoryDamaged(f"memory: {self.path}: damaged ({exc}); move it aside and add your "
                                          "notes again (assist memory add PATH...)")
            raise self._damaged from None

    @property
    def collection(self) -> Any:
        """The collection as the last write left it (opened again when another process wrote since)."""
        with self._threads:
            if self._collection is not None and not self.url and self._read_stamp() != self._seen:
                self._close()
            if self._collection is None:
                with self._write_lock():
                    self._seen = self._read_stamp()
                    self._client = self.client()
                    self._collection = self._open(self._client)
            return self._collection

    def _close(self) -> None:
        self._collection = None
        if self._client is not None and hasattr(self._client, "close"):
            self._client.close()
        self._client = None

    def _read_stamp(self) -> bytes | None:
        try:
            return (self.path / STAMP).read_bytes()
        except OSError:
            return None

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """One writer at a time across processes (a local store; a server orders its own writes)."""
        if self.url:
            yield
            return
        from filelock import FileLock, Timeout

        if self._lock is None:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(self.path / WRITE_LOCK, timeout=LOCK_TIMEOUT_S)
        try:
            self._lock.acquire()
        except Timeout:
            raise AssistError(f"memory: another process has been writing {self.path} for {LOCK_TIMEOUT_S} s "
                              f"(it holds {WRITE_LOCK})") from None
        try:
            yield
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Any]:
        """The collection, to change: other processes see the stamp change before the write begins (and
        wait for the lock to open the store again) and after it ends."""
        with self._threads, self._write_lock():
            collection = self.collection
            self._mark()
            try:
                yield collection
            finally:
                self._mark()

    def _mark(self) -> None:
        if not self.url:
            from ..fileutil import write_atomic

            self._seen = uuid.uuid4().hex.encode()
            write_atomic(self.path / STAMP, self._seen)

    def _reading(self, read: Callable[[Any], Any]) -> Any:
        """read(collection), once more on a store opened again when chroma fails (a write by another
        process that began after the stamp was checked)."""
        from chromadb.errors import ChromaError

        with self._threads:
            try:
                return read(self.collection)
            except ChromaError:
                if self.url:
                    raise
                self._close()
                return read(self.collection)

    def _open(self, client: Any) -> Any:
        """The collection, made with the encoder in use: one whose vectors came from another encoder
        (recorded in its metadata; none recorded before assist kept it) is embedded again first. Called
        under the write lock."""
        name, spare = self.collection_name, f"{self.collection_name}{SPARE}"
        functions = _embedding_function(self.embedder)
        encoder = self.embedder.identity
        names = _collection_names(client)
        if name not in names and spare in names:  # embedded again, then stopped before the rename
            client.get_collection(spare, embedding_function=functions).modify(name=name)
            self._mark()
        elif name not in names:
            self._mark()
            return client.create_collection(name, embedding_function=functions, configuration={"hnsw": HNSW},
                                            metadata={"encoder": encoder})
        collection = client.get_collection(name, embedding_function=functions)
        if (collection.metadata or {}).get("encoder") == encoder:
            return collection
        self._mark()
        if not collection.count():
            collection.modify(metadata={"encoder": encoder})
            return collection
        return self._embed_again(client, collection, encoder)

    def _embed_again(self, client: Any, old: Any, encoder: str) -> Any:
        """Copy every chunk of `old` into a new collection with vectors from the encoder in use, then put
        it in the old one's place. The old collection is deleted only once the copy is whole."""
        spare = f"{old.name}{SPARE}"
        if spare in _collection_names(client):
            client.delete_collection(spare)  # a copy that was cut short
        functions = _embedding_function(self.embedder)
        new = client.create_collection(spare, embedding_function=functions, configuration={"hnsw": HNSW},
                                       metadata={"encoder": encoder})
        total = old.count()
        sys.stderr.write(f"assist: memory: the encoder changed; embedding the {total} chunks of "
                         f"'{old.name}' again\n")
        for offset in range(0, total, ADD_BATCH):
            got = old.get(include=["documents", "metadatas"], limit=ADD_BATCH, offset=offset)
            texts = [_embedded(meta.get("title", ""), meta.get("text", doc))
                     for doc, meta in zip(got["documents"], got["metadatas"], strict=True)]
            new.add(ids=got["ids"], embeddings=self.embedder.embed(texts), documents=got["documents"],
                    metadatas=got["metadatas"])
        if new.count() != total:
            raise AssistError(f"memory: embedding '{old.name}' again copied {new.count()} of {total} chunks; "
                              "the old collection is kept")
        client.delete_collection(old.name)
        new.modify(name=old.name)
        return client.get_collection(old.name, embedding_function=functions)

    def add(self, items: list[Chunk], progress: Any = None) -> int:
        """Store chunks (replacing earlier chunks of the same sources); returns how many were stored."""
        sources = sorted({c.source for c in items})
        with self._writing() as collection:
            for start in range(0, len(sources), 100):
                collection.delete(where={"source": {"$in": sources[start:start + 100]}})
            for start in range(0, len(items), ADD_BATCH):
                batch = items[start:start + ADD_BATCH]
                vectors = self.embedder.embed([_embedded(c.title, c.text) for c in batch])
                # the document is the lowercased text, for the (case-sensitive) full-text index; the text
                # itself travels in the metadata
                collection.add(ids=[c.id for c in batch], embeddings=vectors,
                               documents=[c.text.lower() for c in batch],
                               metadatas=[{"source": c.source, "title": c.title, "index": c.index, "text": c.text}
                                          for c in batch])
                if progress:
                    progress(start + len(batch))
        return len(items)

    def _never_written(self) -> bool:
        """Nothing was ever added here: no need to start chroma to know it."""
        return not self.url and not (self.path / "chroma.sqlite3").exists()

    def is_empty(self) -> bool:
        return self._never_written() or self._reading(lambda collection: collection.count()) == 0

    def query(self, text: str, k: int = 4, max_distance: float | None = None) -> list[dict[str, Any]]:
        """The k best chunks for `text`, best first, each {id, text, source, title, distance, score}.

        Hybrid retrieval: the nearest chunks by meaning (chroma's HNSW index) and the chunks that contain
        the query's longest keywords (chroma's full-text index; catches what approximate search misses
        and what a small encoder does not know, such as names and numbers) are ranked together by cosine
        similarity plus a bonus for the share of keywords they contain. Chunks farther than
        `max_distance` (cosine distance, 0 = same direction) are left out."""
        import numpy as np

        if self._never_written():
            return []
        vector = self.embedder.embed([text])
        wanted = keywords(text)
        longest = sorted(set(wanted), key=len, reverse=True)[:KEYWORDS]

        def candidates_in(collection: Any) -> dict[str, tuple[str, dict[str, Any], float]]:
            total = collection.count()
            if total == 0:
                return {}
            found = collection.query(query_embeddings=vector, n_results=min(total, max(4 * k, 20)),
                                     include=["documents", "metadatas", "distances"])
            candidates = {id_: (doc, meta, float(distance)) for id_, doc, meta, distance in
                          zip(found["ids"][0], found["documents"][0], found["metadatas"][0],
                              found["distances"][0], strict=True)}
            for word in longest:  # one lookup per word: a common word must not crowd out a rare one
                more = collection.get(where_document={"$contains": word}, limit=KEYWORD_CANDIDATES,
                                      include=["documents", "metadatas", "embeddings"])
                for id_, doc, meta, emb in zip(more["ids"], more["documents"], more["metadatas"],
                                               more["embeddings"], strict=True):
                    if id_ not in candidates:
                        candidates[id_] = (doc, meta, 1.0 - float(np.dot(vector[0], emb)))
            return candidates

        candidates = self._reading(candidates_in)
        ranked = []
        for id_, (doc, meta, distance) in candidates.items():
            if max_distance is not None and distance > max_distance:
                continue
            score = (1.0 - distance) + KEYWORD_WEIGHT * keyword_share(wanted, doc)
            ranked.append({"id": id_, "text": meta.get("text", doc), "source": meta.get("source", ""),
                           "title": meta.get("title", ""),
                           "distance": round(distance, 4), "score": round(score, 4)})
        ranked.sort(key=lambda c: c["score"], reverse=True)
        return ranked[:k]

    def sources(self) -> dict[str, int]:
        """Chunks per source."""
        def count(collection: Any) -> dict[str, int]:
            counts: dict[str, int] = {}
            for offset in range(0, collection.count(), 5000):
                for meta in collection.get(include=["metadatas"], limit=5000, offset=offset)["metadatas"]:
                    counts[meta.get("source", "")] = counts.get(meta.get("source", ""), 0) + 1
            return counts

        return dict(sorted(self._reading(count).items()))

    def remove(self, source: str | None = None, ids: list[str] | None = None) -> int:
        """Forget a source's chunks (a path is resolved first) or chunks by id; returns how many."""
        with self._writing() as collection:
            if ids:
                found = collection.get(ids=ids, include=[])["ids"]
            else:
                assert source is not None
                candidates = [source, str(Path(source).expanduser().resolve())]
                found = collection.get(where={"source": {"$in": candidates}}, include=[])["ids"]
            if found:
                collection.delete(ids=found)
        return len(found)
