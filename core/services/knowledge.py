"""The knowledge base: documents (policy, faq, delivery, returns, payment, script, objection) with categories and
tags, imported from markdown, plain text, or CSV of questions and answers; chunked and embedded for retrieval.

A document is identified by the file it came from: importing the same file again updates it (and re-chunks only
when its text changed) instead of adding a copy.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..ai.indexing import Indexer
from ..errors import NotFound, UserError
from ..i18n import t
from ..models import DocType, KnowledgeChunk, KnowledgeDocument
from .catalog import decode, detect_delimiter


SUPPORTED = (".md", ".markdown", ".txt", ".csv")

# Document type from words in the file name or title, first match wins.
DOC_TYPE_HINTS: list[tuple[DocType, tuple[str, ...]]] = [
    (DocType.DELIVERY, ("доставк", "delivery", "shipping")),
    (DocType.RETURNS, ("возврат", "обмен", "return", "refund")),
    (DocType.PAYMENT, ("оплат", "payment", "pay")),
    (DocType.OBJECTION, ("возражен", "objection")),
    (DocType.SCRIPT, ("скрипт", "script")),
    (DocType.POLICY, ("гарант", "warranty", "политик", "policy", "правил", "услови", "terms")),
    (DocType.FAQ, ("faq", "вопрос", "question")),
]

QA_QUESTION = ("вопрос", "question", "q")
QA_ANSWER = ("ответ", "answer", "a")
QA_CATEGORY = ("категория", "category", "раздел")


def infer_doc_type(*names: str) -> DocType:
    joined = " ".join(n.lower() for n in names if n)
    for doc_type, hints in DOC_TYPE_HINTS:
        if any(h in joined for h in hints):
            return doc_type
    return DocType.FAQ


def parse_doc_type(value: str) -> DocType:
    try:
        return DocType(value.lower())
    except ValueError:
        choices = ", ".join(t.value for t in DocType if t != DocType.PRODUCT)
        raise UserError(f"unknown document type {value!r}; one of: {choices}", code="knowledge.error.bad_type",
                        value=value, choices=choices) from None


def parse_front_matter(text_: str) -> tuple[dict[str, str], str]:
    """`---\\nkey: value\\n---` at the top of a markdown file (type, category, tags, title)."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n", text_, re.DOTALL)
    if not match:
        return {}, text_
    meta = {}
    for line in match.group(1).splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            meta[key.strip().lower()] = value.strip()
    return meta, text_[match.end():]


def content_hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


@dataclass
class KBImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "chunks": self.chunks, "errors": self.errors}


async def upsert_document(
    session: AsyncSession,
    tenant_id: int,
    *,
    title: str,
    body: str,
    indexer: Indexer,
    doc_type: DocType | None = None,
    category: str | None = None,
    tags: list[str] | None = None,
    source: str | None = None,
    chunks: list[str] | None = None,
) -> tuple[KnowledgeDocument, str]:
    """Create or update the document from `source` (or with this title when there is no source).
    Returns the document and "created" | "updated" | "unchanged"."""
    doc_type = doc_type or infer_doc_type(source or "", title)
    digest = content_hash(title, body, doc_type.value, category or "", ",".join(tags or []))
    query = select(KnowledgeDocument).where(KnowledgeDocument.tenant_id == tenant_id)
    query = query.where(KnowledgeDocument.source == source) if source else query.where(
        KnowledgeDocument.source.is_(None), KnowledgeDocument.title == title)
    document = (await session.execute(query.limit(1))).scalar_one_or_none()
    if document is not None and document.content_hash == digest:
        stale = (await session.execute(select(func.count(KnowledgeChunk.id)).where(
            KnowledgeChunk.document_id == document.id,
            (KnowledgeChunk.embedder.is_(None)) | (KnowledgeChunk.embedder != indexer.embedder.name),
        ))).scalar_one()
        if stale == 0:
            return document, "unchanged"
    status = "updated"
    if document is None:
        document = KnowledgeDocument(tenant_id=tenant_id, source=source)
        session.add(document)
        status = "created"
    document.title = title[:255]
    document.body = body
    document.doc_type = doc_type
    document.category = category
    document.tags = list(tags or [])
    document.content_hash = digest
    await session.flush()
    await indexer.index_document(session, document, chunks)
    return document, status


def parse_qa_csv(data: bytes, name: str) -> tuple[list[tuple[str, str, str | None]], list[str]]:
    text_, _ = decode(data)
    first = next((line for line in text_.splitlines() if line.strip()), "")
    reader = csv.reader(io.StringIO(text_, newline=""), delimiter=detect_delimiter(first))
    pairs: list[tuple[str, str, str | None]] = []
    errors: list[str] = []
    columns: dict[str, int] | None = None
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(t("knowledge.problem.qa_row", name=name, line=line, reason=str(exc)))
            continue
        if not any(c.strip() for c in row):
            continue
        if columns is None:
            heads = [c.strip().lower().strip("\ufeff") for c in row]
            columns = {}
            for key, aliases in (("q", QA_QUESTION), ("a", QA_ANSWER), ("category", QA_CATEGORY)):
                index = next((i for i, h in enumerate(heads) if h in aliases), None)
                if index is not None:
                    columns[key] = index
            if "q" not in columns or "a" not in columns:
                raise UserError(f"{name}: needs question and answer columns", code="knowledge.error.qa_header", name=name)
            continue

        def cell(key: str) -> str:
            index = columns.get(key)
            return row[index].strip() if index is not None and index < len(row) else ""

        question, answer = cell("q"), cell("a")
        if not question or not answer:
            reason = t("knowledge.problem.qa_missing_q" if not question else "knowledge.problem.qa_missing_a")
            errors.append(t("knowledge.problem.qa_row", name=name, line=line, reason=reason))
            continue
        pairs.append((question, answer, cell("category") or None))
    return pairs, errors


async def import_file(session: AsyncSession, tenant_id: int, path: Path, *, indexer: Indexer,
                      doc_type: DocType | None = None, report: KBImportReport | None = None) -> KBImportReport:
    report = report or KBImportReport()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        report.errors.append(t("knowledge.problem.unsupported", name=path.name))
        return report
    data = path.read_bytes()
    if not data.strip():
        report.errors.append(t("knowledge.problem.empty", name=path.name))
        return report
    if suffix == ".csv":
        try:
            pairs, errors = parse_qa_csv(data, path.name)
        except UserError as exc:  # e.g. a catalog CSV in a knowledge folder: reported, the other files go on
            report.errors.append(exc.text())
            return report
        report.errors.extend(errors)
        if not pairs:
            return report
        title = path.stem.replace("_", " ").strip().capitalize()
        body = "\n\n".join(f"## {q}\n{a}" for q, a, _ in pairs)
        chunks = [f"Вопрос: {q}\nОтвет: {a}" for q, a, _ in pairs]
        categories = {c for _, _, c in pairs if c}
        document, status = await upsert_document(
            session, tenant_id, title=title, body=body, indexer=indexer,
            doc_type=doc_type or infer_doc_type(path.name), category=categories.pop() if len(categories) == 1 else None,
            source=path.name, chunks=chunks,
        )
    else:
        text_, _ = decode(data)
        meta, body = parse_front_matter(text_)
        heading = re.search(r"^#\s+(.+)$", body, re.MULTILINE)
        title = meta.get("title") or (heading.group(1).strip() if heading else path.stem.replace("_", " "))
        if heading and not meta.get("title"):
            body = body[: heading.start()] + body[heading.end():]  # the title is the chunks' prefix already
        tags = [t.strip() for t in meta.get("tags", "").split(",") if t.strip()]
        chosen_type = doc_type or (parse_doc_type(meta["type"]) if meta.get("type") else None)
        document, status = await upsert_document(
            session, tenant_id, title=title, body=body.strip(), indexer=indexer,
            doc_type=chosen_type or infer_doc_type(path.name, title), category=meta.get("category"), tags=tags,
            source=path.name,
        )
    setattr(report, status, getattr(report, status) + 1)
    if status != "unchanged":
        report.chunks += (await session.execute(
            select(func.count(KnowledgeChunk.id)).where(KnowledgeChunk.document_id == document.id)
        )).scalar_one()
    return report


async def import_path(session: AsyncSession, tenant_id: int, path: Path, *, indexer: Indexer,
                      doc_type: DocType | None = None) -> KBImportReport:
    """A file, or every supported file in a folder (sorted, not recursive into hidden folders)."""
    if not path.exists():
        raise UserError(f"no such file or folder: {path}", code="knowledge.error.no_path", path=str(path))
    report = KBImportReport()
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    for file in files:
        await import_file(session, tenant_id, file, indexer=indexer, doc_type=doc_type, report=report)
    return report


async def list_documents(session: AsyncSession, tenant_id: int, *, doc_type: DocType | None = None
                         ) -> list[KnowledgeDocument]:
    query = select(KnowledgeDocument).where(KnowledgeDocument.tenant_id == tenant_id)
    if doc_type is not None:
        query = query.where(KnowledgeDocument.doc_type == doc_type)
    return list((await session.execute(query.order_by(KnowledgeDocument.title))).scalars())


async def delete_document(session: AsyncSession, tenant_id: int, document_id: int) -> None:
    document = await session.get(KnowledgeDocument, document_id)
    if document is None or document.tenant_id != tenant_id:
        raise NotFound(f"no document {document_id}", code="knowledge.error.unknown_document", document=document_id)
    await session.delete(document)  # chunks go with it (ON DELETE CASCADE)
