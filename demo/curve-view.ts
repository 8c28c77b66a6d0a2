/**
 * The live learning curve: the training episodes' mean return per iteration and the greedy
 * evaluations' mean return (with their min–max), against environment steps. The canvas carries
 * data-points (points drawn), which the browser tests read.
 */
import { niceTicks, prepareCanvas, shortNumber, themeColour } from "./canvas.ts";

export interface CurvePoint {
  step: number;
  value: number;
}

export interface EvaluationPoint extends CurvePoint {
  min: number;
  max: number;
}

export class CurveView {
  private training: CurvePoint[] = [];
  private evaluations: EvaluationPoint[] = [];

  /** `minimumSpan`: the fewest steps the x axis shows (it grows with the run, so early points are not squeezed to the left). */
  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly minimumSpan: () => number,
  ) {
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  addTraining(point: CurvePoint): void {
    this.training.push(point);
    this.draw();
  }

  addEvaluation(point: EvaluationPoint): void {
    this.evaluations.push(point);
    this.draw();
  }

  clear(): void {
    this.training = [];
    this.evaluations = [];
    this.draw();
  }

  draw(): void {
    const prepared = prepareCanvas(this.canvas, 240);
    if (!prepared) return;
    const { ctx: g, width, height } = prepared;
    const left = 44;
    const right = 12;
    const top = 22;
    const bottom = 40;
    const values = [...this.training.map((p) => p.value), ...this.evaluations.flatMap((p) => [p.min, p.max])];
    const yLo = Math.min(0, ...values);
    const yHi = Math.max(1, ...values);
    const lastStep = Math.max(0, ...this.training.map((p) => p.step), ...this.evaluations.map((p) => p.step));
    const xHi = Math.max(this.minimumSpan(), 1.15 * lastStep, 1);
    const x = (step: number) => left + (step / xHi) * (width - left - right);
    const y = (value: number) => top + (1 - (value - yLo) / (yHi - yLo)) * (height - top - bottom);

    g.font = "11px system-ui, sans-serif";
    g.lineWidth = 1;
    g.strokeStyle = themeColour("--line");
    g.fillStyle = themeColour("--muted");
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (const tick of niceTicks(yLo, yHi, 5)) {
      g.beginPath();
      g.moveTo(left, y(tick));
      g.lineTo(width - right, y(tick));
      g.stroke();
      g.fillText(shortNumber(tick), left - 6, y(tick));
    }
    g.textAlign = "center";
    g.textBaseline = "top";
    for (const tick of niceTicks(0, xHi, 5)) g.fillText(shortNumber(tick), x(tick), height - bottom + 6);
    g.fillText("environment steps", left + (width - left - right) / 2, height - 16);
    g.save();
    g.translate(10, top + (height - top - bottom) / 2);
    g.rotate(-Math.PI / 2);
    g.fillText("return", 0, -6);
    g.restore();

    // Evaluations: a band from min to max, and the mean as a line with dots.
    const accent2 = themeColour("--accent-2");
    if (this.evaluations.length > 0) {
      g.globalAlpha = 0.18;
      g.fillStyle = accent2;
      g.beginPath();
      this.evaluations.forEach((p, k) => (k === 0 ? g.moveTo(x(p.step), y(p.max)) : g.lineTo(x(p.step), y(p.max))));
      for (const p of [...this.evaluations].reverse()) g.lineTo(x(p.step), y(p.min));
      g.closePath();
      g.fill();
      g.globalAlpha = 1;
    }
    this.line(this.evaluations, x, y, accent2, true);
    this.line(this.training, x, y, themeColour("--accent"), false);

    // Legend.
    g.textAlign = "right";
    g.textBaseline = "top";
    g.fillStyle = themeColour("--accent");
    g.fillText("— training episodes (mean return)", width - right, 2);
    g.fillStyle = accent2;
    g.fillText("● greedy evaluation (mean, min–max)", width - right, 14);
    this.canvas.dataset.points = String(this.training.length + this.evaluations.length);
  }

  private line(points: readonly CurvePoint[], x: (s: number) => number, y: (v: number) => number, colour: string, dots: boolean): void {
    const g = this.canvas.getContext("2d")!;
    g.strokeStyle = colour;
    g.fillStyle = colour;
    g.lineWidth = 2;
    g.beginPath();
    points.forEach((p, k) => (k === 0 ? g.moveTo(x(p.step), y(p.value)) : g.lineTo(x(p.step), y(p.value))));
    g.stroke();
    if (dots) {
      for (const p of points) {
        g.beginPath();
        g.arc(x(p.step), y(p.value), 3, 0, 2 * Math.PI);
        g.fill();
      }
    }
  }
}
