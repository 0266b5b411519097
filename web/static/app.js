// Drawing pad: Pointer Events (mouse, touch, pen), debounced real-time prediction, and a guard so
// that a slower, older answer never replaces a newer one.
"use strict";

const PEN_WIDTH = 20;            // at 280 px, close to MNIST's stroke once scaled to 28 px
const LIVE_DELAY_MS = 250;       // debounce while the pen moves

const canvas = document.getElementById("canvas");
const context = canvas.getContext("2d");
const digitBox = document.getElementById("digit");
const statusLine = document.getElementById("status");
const confidenceLine = document.getElementById("confidence");
const preview = document.getElementById("preview");
const bars = document.getElementById("bars");

let drawing = false;
let hasInk = false;
let lastPoint = null;
let liveTimer = null;
let requestCounter = 0;
let shownRequest = 0;

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
  liveTimer = setTimeout(predict, LIVE_DELAY_MS);
}

function showMessage(text, isError) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", Boolean(isError));
}

function showEmpty() {
  digitBox.textContent = "?";
  confidenceLine.textContent = "";
  preview.hidden = true;
  showMessage("Draw a digit", false);
  for (const row of bars.children) {
    row.classList.remove("top");
    row.querySelector(".fill").style.width = "0";
    row.querySelector(".value").textContent = "–";
  }
}

function showAnswer(answer) {
  digitBox.textContent = String(answer.digit);
  showMessage(`It looks like a ${answer.digit}`, false);
  confidenceLine.textContent = `${(answer.confidence * 100).toFixed(1)}% confident`;
  answer.probabilities.forEach((probability, digit) => {
    const row = bars.children[digit];
    row.classList.toggle("top", digit === answer.digit);
    row.querySelector(".fill").style.width = `${(probability * 100).toFixed(1)}%`;
    row.querySelector(".value").textContent = `${(probability * 100).toFixed(1)}%`;
  });
  if (answer.preview) {
    preview.src = answer.preview;
    preview.hidden = false;
  }
}

async function predict() {
  clearTimeout(liveTimer);
  if (!hasInk) {
    showEmpty();
    return;
  }
  const thisRequest = ++requestCounter;
  const png = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  let answer;
  let failure = null;
  try {
    const response = await fetch("predict", { method: "POST", body: png, headers: { "Content-Type": "image/png" } });
    answer = await response.json().catch(() => ({ error: `the server answered HTTP ${response.status}` }));
    if (!response.ok) failure = answer.error || `the server answered HTTP ${response.status}`;
  } catch (error) {
    failure = "the web server is not reachable";
  }
  // Answers can arrive out of order; only a newer one than what is on screen may replace it.
  if (thisRequest < shownRequest || !hasInk) return;
  shownRequest = thisRequest;
  if (failure) {
    digitBox.textContent = "!";
    confidenceLine.textContent = "";
    showMessage(`Could not recognise the drawing: ${failure}`, true);
  } else {
    showAnswer(answer);
  }
}

function clearCanvas() {
  clearTimeout(liveTimer);
  context.clearRect(0, 0, canvas.width, canvas.height);
  hasInk = false;
  shownRequest = ++requestCounter;   // answers still in flight are now stale
  showEmpty();
}

buildBars();
setPen();
showEmpty();
canvas.addEventListener("pointerdown", startStroke);
canvas.addEventListener("pointermove", continueStroke);
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);
document.getElementById("predict").addEventListener("click", predict);
document.getElementById("clear").addEventListener("click", clearCanvas);
document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLButtonElement && event.key === "Enter") return;
  if (event.key === "Enter" || event.key === "p") { event.preventDefault(); predict(); }
  if (event.key === "Escape" || event.key === "c" || event.key === "Delete") { event.preventDefault(); clearCanvas(); }
});
