/**
 * The cart-pole, drawn from an observation [x, ẋ, θ, θ̇] in Gymnasium's geometry: the track runs
 * over x ∈ [−2.4, 2.4] (the episode ends beyond it), the pole is 1 m long (half-length 0.5) and the
 * episode ends when |θ| > 12°.
 */
import { prepareCanvas, themeColour } from "./canvas.ts";

const TRACK_HALF_WIDTH = 2.4;
const POLE_LENGTH = 1.0;
const ANGLE_LIMIT = (12 * Math.PI) / 180;

export function drawCart(canvas: HTMLCanvasElement, obs: ArrayLike<number>, lastAction: number | null, caption: string): void {
  const prepared = prepareCanvas(canvas, 200);
  if (!prepared) return;
  const { ctx: g, width, height } = prepared;
  const [x, , theta] = [obs[0], obs[1], obs[2]];
  const metre = (width - 40) / (2 * TRACK_HALF_WIDTH + 0.6);
  const groundY = height - 36;
  const centreX = width / 2 + x * metre;

  // Track and its ends.
  g.strokeStyle = themeColour("--line");
  g.lineWidth = 2;
  g.beginPath();
  g.moveTo(width / 2 - (TRACK_HALF_WIDTH + 0.3) * metre, groundY);
  g.lineTo(width / 2 + (TRACK_HALF_WIDTH + 0.3) * metre, groundY);
  g.stroke();
  g.strokeStyle = themeColour("--bad");
  for (const end of [-TRACK_HALF_WIDTH, TRACK_HALF_WIDTH]) {
    g.beginPath();
    g.moveTo(width / 2 + end * metre, groundY - 8);
    g.lineTo(width / 2 + end * metre, groundY + 8);
    g.stroke();
  }

  // Cart.
  const cartWidth = 0.5 * metre;
  const cartHeight = 0.3 * metre;
  g.fillStyle = themeColour("--fg");
  g.fillRect(centreX - cartWidth / 2, groundY - cartHeight - 4, cartWidth, cartHeight);
  const pivotY = groundY - cartHeight - 4;

  // The angle limits, faintly, then the pole.
  g.strokeStyle = themeColour("--line");
  g.lineWidth = 1;
  g.setLineDash([4, 4]);
  for (const limit of [-ANGLE_LIMIT, ANGLE_LIMIT]) {
    g.beginPath();
    g.moveTo(centreX, pivotY);
    g.lineTo(centreX + Math.sin(limit) * POLE_LENGTH * metre, pivotY - Math.cos(limit) * POLE_LENGTH * metre);
    g.stroke();
  }
  g.setLineDash([]);
  g.strokeStyle = Math.abs(theta) > ANGLE_LIMIT ? themeColour("--bad") : themeColour("--accent-2");
  g.lineWidth = Math.max(4, 0.08 * metre);
  g.lineCap = "round";
  g.beginPath();
  g.moveTo(centreX, pivotY);
  g.lineTo(centreX + Math.sin(theta) * POLE_LENGTH * metre, pivotY - Math.cos(theta) * POLE_LENGTH * metre);
  g.stroke();
  g.lineCap = "butt";

  // The push just applied.
  if (lastAction !== null) {
    const direction = lastAction === 1 ? 1 : -1;
    const arrowX = centreX + direction * (cartWidth / 2 + 6);
    g.fillStyle = themeColour("--accent");
    g.beginPath();
    g.moveTo(arrowX + direction * 14, pivotY + cartHeight / 2);
    g.lineTo(arrowX, pivotY + cartHeight / 2 - 7);
    g.lineTo(arrowX, pivotY + cartHeight / 2 + 7);
    g.closePath();
    g.fill();
  }

  g.fillStyle = themeColour("--muted");
  g.font = "12px system-ui, sans-serif";
  g.textAlign = "left";
  g.textBaseline = "top";
  g.fillText(caption, 8, 6);
}
