// Drawing pad: Pointer Events (mouse, touch, pen), debounced real-time prediction, a guard so
// that a slower, older answer never replaces a newer one, and a "Why?" heat map over the drawing.
"use strict";

const PEN_WIDTH = 20;            // on a pad 280 px tall, close to MNIST's stroke once a digit is scaled to 28 px
const LIVE_DELAY_MS = 250;       // debounce while the pen moves

const canvas = document.getElementById("canvas");
const context = canvas.getContext("2d");
const digitBox = document.getElementById("digit");
const statusLine = document.getElementById("status");
const confidenceLine = document.getElementById("confidence");
const preview = document.getElementById("preview");
const bars = document.getElementById("bars");
const barsCaption = document.getElementById("bars-caption");
const symbolList = document.getElementById("symbols");
const boxLayer = document.getElementById("boxes");
const heatmapLayer = document.getElementById("heatmap");
const heatmapContext = heatmapLayer.getContext("2d");
const whyButton = document.getElementById("why");
const whyLegend = document.getElementById("why-legend");
const whyFor = document.getElementById("why-for");
const whyTargets = document.getElementById("why-targets");
const correctForm = document.getElementById("correct");
const correctionInput = document.getElementById("correction");
const correctStatus = document.getElementById("correct-status");

let drawing = false;
let hasInk = false;
let lastPoint = null;
let liveTimer = null;
let requestCounter = 0;
let shownRequest = 0;
let shownAnswer = null;
let drawingVersion = 0;          // bumped whenever the ink changes: answers about older ink are dropped
let explanationRequest = null;   // /explain's answer (a promise) for drawingVersion, asked for once
let shownReceipt = null;         // what a correction of the shown answer quotes (web/corrections.py)

function buildBars() {
  for (let digit = 0; digit < 10; digit++) {
    const row = document.createElement("li");
    row.innerHTML = `<span>${digit}</span><span class="track"><span class="fill"></span></span><span class="value">–</span>`;
    bars.appendChild(row);
  }
}

function setPen() {
  context.lineWidth = PEN_WIDTH;
  context.lineCap = "round";
  context.lineJoin = "round";
  context.strokeStyle = "#000";
  context.fillStyle = "#000";
}

function canvasPoint(event) {
  const box = canvas.getBoundingClientRect();
  return { x: (event.clientX - box.left) * canvas.width / box.width,
           y: (event.clientY - box.top) * canvas.height / box.height };
}

function startStroke(event) {
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  drawing = true;
  hasInk = true;
  drawingChanged();
  lastPoint = canvasPoint(event);
  context.beginPath();
  context.arc(lastPoint.x, lastPoint.y, PEN_WIDTH / 2, 0, 2 * Math.PI);
  context.fill();
}

function continueStroke(event) {
  if (!drawing) return;
  event.preventDefault();
  const points = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  context.beginPath();
  context.moveTo(lastPoint.x, lastPoint.y);
  for (const point of points.length ? points : [event]) {
    lastPoint = canvasPoint(point);
    context.lineTo(lastPoint.x, lastPoint.y);
  }
  context.stroke();
  scheduleLivePrediction();
}

function endStroke() {
  if (!drawing) return;
  drawing = false;
  clearTimeout(liveTimer);
  predict();
}

function scheduleLivePrediction() {
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => predict({ live: true }), LIVE_DELAY_MS);
}

function showMessage(text, isError) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", Boolean(isError));
}

function showEmpty() {
  digitBox.textContent = "?";
  digitBox.classList.remove("guess");
  confidenceLine.textContent = "";
  preview.hidden = true;
  symbolList.hidden = true;
  symbolList.replaceChildren();
  boxLayer.replaceChildren();
  barsCaption.hidden = true;
  shownAnswer = null;
  showMessage("Draw a digit", false);
  showBars(null);
}

function percent(probability) {
  return `${(probability * 100).toFixed(1)}%`;
}

function showBars(symbol) {
  [...bars.children].forEach((row, digit) => {
    const probability = symbol ? symbol.probabilities[digit] : 0;
    row.classList.toggle("top", Boolean(symbol) && digit === symbol.digit);
    row.querySelector(".fill").style.width = symbol ? percent(probability) : "0";
    row.querySelector(".value").textContent = symbol ? percent(probability) : "–";
  });
}

// The symbol whose probabilities are shown: the one clicked, else the least certain one.
function leastCertain(symbols) {
  return symbols.reduce((worst, symbol) =>
    (!symbol.is_digit && worst.is_digit) || (symbol.is_digit === worst.is_digit && symbol.confidence < worst.confidence)
      ? symbol : worst);
}

function selectSymbol(index) {
  const symbols = shownAnswer.digits;
  const symbol = symbols[index];
  showBars(symbol);
  [...symbolList.children].forEach((item, i) => item.classList.toggle("selected", i === index));
  [...boxLayer.children].forEach((box, i) => box.classList.toggle("selected", i === index));
  barsCaption.hidden = symbols.length === 1;
  barsCaption.textContent = `Probabilities of symbol ${index + 1} of ${symbols.length}` +
    (symbol.is_digit ? "" : " (not a digit: best guess shown)");
  if (symbol.preview) {
    preview.src = symbol.preview;
    preview.hidden = false;
  }
}

// A symbol as it was written: its digit, its mark (a decimal point, a minus sign), or "?".
function writtenAs(symbol) {
  return symbol.is_digit ? String(symbol.digit) : symbol.mark || "?";
}

// Each symbol's box over the canvas, in the canvas's own pixels scaled to its size on screen. The
// boxes let pointer events through, so that drawing goes on over them; the list below selects.
function drawBoxes(symbols) {
  boxLayer.replaceChildren(...symbols.map((symbol) => {
    const [left, top, right, bottom] = symbol.box;
    const box = document.createElement("div");
    box.className = symbol.is_digit ? "box" : "box not-digit";
    box.style.left = percent(left / canvas.width);
    box.style.top = percent(top / canvas.height);
    box.style.width = percent((right - left) / canvas.width);
    box.style.height = percent((bottom - top) / canvas.height);
    box.dataset.digit = writtenAs(symbol);
    return box;
  }));
}

function listSymbols(symbols) {
  symbolList.hidden = symbols.length < 2;
  symbolList.replaceChildren(...symbols.map((symbol, index) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = symbol.is_digit ? "symbol" : "symbol not-digit";
    if (symbol.preview) {
      const image = document.createElement("img");
      image.src = symbol.preview;
      image.alt = `symbol ${index + 1} as the model saw it`;
      button.appendChild(image);
    }
    const label = document.createElement("span");
    label.textContent = symbol.is_digit ? `${symbol.digit} · ${percent(symbol.confidence)}`
      : symbol.mark ? `"${symbol.mark}": not a digit` : "not a digit";
    button.appendChild(label);
    button.addEventListener("click", () => selectSymbol(index));
    item.appendChild(button);
    return item;
  }));
}

function showAnswer(answer) {
  shownAnswer = answer;
  const symbols = answer.digits;
  preview.hidden = true;
  digitBox.classList.toggle("guess", !answer.is_digit);
  if (answer.is_digit && symbols.length === 1) {
    digitBox.textContent = String(answer.digit);
    showMessage(`It looks like a ${answer.digit}`, false);
    confidenceLine.textContent = `${percent(answer.confidence)} confident`;
  } else if (answer.is_digit) {
    digitBox.textContent = answer.number;
    showMessage(`It looks like ${answer.number}`, false);
    confidenceLine.textContent = `${symbols.length} digits, the least certain ${percent(leastCertain(symbols).confidence)}`;
  } else if (symbols.length === 1) {
    digitBox.textContent = "?";
    showMessage("That doesn't look like a digit", false);
    confidenceLine.textContent = `best guess ${symbols[0].digit} (${percent(symbols[0].confidence)})`;
  } else {
    digitBox.textContent = symbols.map(writtenAs).join("");
    showMessage(`Partly read: ${answer.reason}`, false);
    confidenceLine.textContent = `read ${answer.number ? `"${answer.number}"` : "no digit"} of ${symbols.length} symbols`;
  }
  drawBoxes(symbols);
  listSymbols(symbols);
  selectSymbol(symbols.indexOf(leastCertain(symbols)));
}

// The drawing as PNG bytes. Not canvas.toBlob: Chromium encodes for it in an idle moment, which in
// a busy or headless browser comes up to a second later (measured: 1,000 ms of 1,040 to an answer).
function pngOf(dataUrl) {
  const bytes = atob(dataUrl.split(",")[1]);
  return new Blob([Uint8Array.from(bytes, (c) => c.charCodeAt(0))], { type: "image/png" });
}

// The drawing as it is now, sent to `url`: the JSON answer, or an Error saying what went wrong in
// the server's own words. The answer's receipt is what a correction of it must quote: the drawing
// and the answer exactly as sent and received, the model version and the signature.
async function postDrawing(url) {
  const dataUrl = canvas.toDataURL("image/png");
  let response;
  try {
    response = await fetch(url, { method: "POST", body: pngOf(dataUrl), headers: { "Content-Type": "image/png" } });
  } catch (error) {
    throw new Error("the web server is not reachable");
  }
  const text = await response.text();
  let answer = null;
  try { answer = JSON.parse(text); } catch (error) { answer = null; }
  if (!response.ok || !answer) throw new Error(answer?.error || `the server answered HTTP ${response.status}`);
  const receipt = response.headers.get("X-Answer-Receipt");
  answer.receipt = receipt && { image: dataUrl, answer: text, receipt,
                                model_version: response.headers.get("X-Model-Version") };
  return answer;
}

// One digit per symbol when the drawing was read as a number; otherwise any number.
function offerCorrection(answer) {
  shownReceipt = answer.receipt;
  correctForm.hidden = !shownReceipt;
  correctStatus.textContent = "";
  correctionInput.value = "";
  const symbols = answer.is_digit ? answer.digits.length : 0;
  correctionInput.pattern = symbols ? `[0-9]{${symbols}}` : "[0-9]{1,12}";
  correctionInput.title = symbols ? `${symbols} digit(s), one for each symbol drawn` : "the digits you wrote";
}

async function sendCorrection(event) {
  event.preventDefault();
  if (!shownReceipt || !correctForm.reportValidity()) return;
  let response;
  try {
    response = await fetch("corrections", { method: "POST", headers: { "Content-Type": "application/json" },
                                            body: JSON.stringify({ ...shownReceipt, correction: correctionInput.value }) });
  } catch (error) {
    correctStatus.textContent = "The web server is not reachable; nothing was kept.";
    return;
  }
  const reply = await response.json().catch(() => ({}));
  correctStatus.textContent = response.ok ? "Thank you: kept for review." : `Not kept: ${reply.error || `HTTP ${response.status}`}`;
  if (response.ok) shownReceipt = null;
}

// Live predictions while the pen moves skip the previews; the final one, when it lifts, asks for them.
async function predict({ live = false } = {}) {
  clearTimeout(liveTimer);
  if (!hasInk) {
    showEmpty();
    return;
  }
  const thisRequest = ++requestCounter;
  const sentVersion = drawingVersion;
  let answer;
  let failure = null;
  try {
    answer = await postDrawing(live ? "predict" : "predict?preview=1");
  } catch (error) {
    failure = error.message;
  }
  // Answers can arrive out of order; only a newer one than what is on screen may replace it.
  if (thisRequest < shownRequest || !hasInk) return;
  shownRequest = thisRequest;
  if (failure) {
    digitBox.textContent = "!";
    digitBox.classList.remove("guess");
    confidenceLine.textContent = "";
    showMessage(`Could not recognise the drawing: ${failure}`, true);
  } else {
    showAnswer(answer);
    // Live answers come while the ink is still changing; only the final one is worth explaining or correcting.
    if (!live && sentVersion === drawingVersion) {
      whyButton.disabled = false;
      offerCorrection(answer);
    }
  }
}

function clearCanvas() {
  clearTimeout(liveTimer);
  context.clearRect(0, 0, canvas.width, canvas.height);
  hasInk = false;
  shownRequest = ++requestCounter;   // answers still in flight are now stale
  drawingChanged();
  showEmpty();
}

function drawingChanged() {
  drawingVersion++;
  explanationRequest = null;
  shownReceipt = null;
  correctForm.hidden = true;
  whyButton.disabled = true;
  hideExplanation();
}

function hideExplanation() {
  whyButton.setAttribute("aria-pressed", "false");
  heatmapLayer.hidden = true;
  whyLegend.hidden = true;
}

function loadImage(source) {
  const image = new Image();
  image.src = source;
  return image.decode().then(() => image);
}

// /explain's answer for the drawing on the canvas: per symbol its box, the digit explained and its
// heat map, decoded and ready to draw.
async function fetchExplanation() {
  const answer = await postDrawing("explain");
  return Promise.all(answer.digits.map(async (symbol) => ({
    box: symbol.box,
    target: symbol.explanation.target,
    heatmap: await loadImage(symbol.explanation.heatmap),
  })));
}

// The overlay has the drawing canvas's pixel size and is stretched over it the same way, so each
// heat map goes on its box as the server gave it, in the pixels of the PNG that was sent.
function paintHeatmaps(symbols) {
  heatmapContext.clearRect(0, 0, heatmapLayer.width, heatmapLayer.height);
  for (const { box: [left, top, right, bottom], heatmap } of symbols) {
    heatmapContext.drawImage(heatmap, left, top, right - left, bottom - top);
  }
}

function describeExplanation(symbols) {
  whyFor.textContent = symbols.length === 1
    ? `orange: ink that made it a ${symbols[0].target}`
    : "orange: ink that made each symbol the digit listed below";
  whyTargets.hidden = symbols.length === 1;
  whyTargets.replaceChildren(...symbols.map((symbol, index) => {
    const item = document.createElement("li");
    item.textContent = `symbol ${index + 1}: why a ${symbol.target}`;
    return item;
  }));
}

// The button shows as pressed at once; while the answer is on its way the drawing may change or the
// button be turned off again, and then the answer is kept for the next press but not shown.
async function showExplanation() {
  const version = drawingVersion;
  const stillWanted = () => version === drawingVersion && whyButton.getAttribute("aria-pressed") === "true";
  whyButton.setAttribute("aria-pressed", "true");
  explanationRequest = explanationRequest || fetchExplanation();
  let symbols;
  try {
    symbols = await explanationRequest;
  } catch (error) {
    if (version !== drawingVersion) return;
    explanationRequest = null;   // a failure is not kept: the next press asks again
    hideExplanation();
    showMessage(`Could not explain the drawing: ${error.message}`, true);
    return;
  }
  if (!stillWanted()) return;
  paintHeatmaps(symbols);
  describeExplanation(symbols);
  heatmapLayer.hidden = false;
  whyLegend.hidden = false;
}

function toggleExplanation() {
  if (whyButton.getAttribute("aria-pressed") === "true") hideExplanation();
  else showExplanation();
}

buildBars();
setPen();
heatmapLayer.width = canvas.width;
heatmapLayer.height = canvas.height;
showEmpty();
canvas.addEventListener("pointerdown", startStroke);
canvas.addEventListener("pointermove", continueStroke);
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);
document.getElementById("predict").addEventListener("click", () => predict());
document.getElementById("clear").addEventListener("click", clearCanvas);
whyButton.addEventListener("click", toggleExplanation);
correctForm.addEventListener("submit", sendCorrection);
document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLButtonElement && event.key === "Enter") return;
  if (event.target instanceof HTMLInputElement) return;   // typing a correction
  if (event.key === "Enter" || event.key === "p") { event.preventDefault(); predict(); }
  if (event.key === "Escape" || event.key === "c" || event.key === "Delete") { event.preventDefault(); clearCanvas(); }
});
