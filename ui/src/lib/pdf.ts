// Draws a PDF's pages into a container with pdf.js (the webview has no PDF viewer of its
// own). Loaded only when a preview opens.
import { GlobalWorkerOptions, getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";
import workerUrl from "pdfjs-dist/legacy/build/pdf.worker.min.mjs?url";

GlobalWorkerOptions.workerSrc = workerUrl;

/** Renders every page of `bytes` as a canvas in `into`; returns the number of pages. */
export async function renderPdf(bytes: ArrayBuffer, into: HTMLElement, width: number): Promise<number> {
  const doc = await getDocument({ data: new Uint8Array(bytes), isEvalSupported: false }).promise;
  try {
    for (let n = 1; n <= doc.numPages; n++) {
      const page = await doc.getPage(n);
      const base = page.getViewport({ scale: 1 });
      const ratio = window.devicePixelRatio || 1;
      const viewport = page.getViewport({ scale: (width / base.width) * ratio });
      const canvas = document.createElement("canvas");
      canvas.width = Math.floor(viewport.width);
      canvas.height = Math.floor(viewport.height);
      canvas.style.width = `${Math.floor(viewport.width / ratio)}px`;
      canvas.setAttribute("aria-label", `page ${n}`);
      into.appendChild(canvas);
      await page.render({ canvas, viewport }).promise;
    }
    return doc.numPages;
  } finally {
    await doc.destroy();
  }
}
