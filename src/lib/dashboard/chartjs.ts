// Chart.js, with only what the dashboard's bar charts use registered (it is tree-shakable), loaded
// by BarChart.svelte with a dynamic import so that no other page downloads it.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

export interface BarSeries {
  label: string;
  data: number[];
  /** A CSS color, or a custom property of the page (`--chart-completed`). */
  color: string;
}

export interface BarChartSpec {
  labels: string[];
  series: BarSeries[];
  stacked?: boolean;
  /** Bars along the x axis (one row per label). */
  horizontal?: boolean;
  /** The value axis' title, e.g. "requests" or "hours". */
  valueTitle?: string;
  /** Whole numbers only on the value axis (counts). */
  integers?: boolean;
}

export interface DrawnChart {
  update(spec: BarChartSpec): void;
  destroy(): void;
}

function resolveColor(element: Element, color: string): string {
  return color.startsWith('--') ? getComputedStyle(element).getPropertyValue(color).trim() || '#888' : color;
}

function config(canvas: HTMLCanvasElement, spec: BarChartSpec) {
  const text = resolveColor(canvas, '--muted');
  const grid = resolveColor(canvas, '--border');
  const valueAxis = {
    stacked: spec.stacked ?? false,
    beginAtZero: true,
    ticks: { color: text, ...(spec.integers ? { precision: 0 } : {}) },
    grid: { color: grid },
    title: { display: Boolean(spec.valueTitle), text: spec.valueTitle ?? '', color: text },
  };
  const categoryAxis = { stacked: spec.stacked ?? false, ticks: { color: text }, grid: { display: false } };
  return {
    type: 'bar' as const,
    data: {
      labels: spec.labels,
      datasets: spec.series.map((series) => ({
        label: series.label,
        data: series.data,
        backgroundColor: resolveColor(canvas, series.color),
        borderWidth: 0,
        maxBarThickness: 28,
      })),
    },
    options: {
      indexAxis: spec.horizontal ? ('y' as const) : ('x' as const),
      responsive: true,
      maintainAspectRatio: false,
      // Changes arrive live: the picture changes at once, without motion.
      animation: false as const,
      scales: spec.horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
      plugins: {
        legend: { display: spec.series.length > 1, labels: { color: text, boxWidth: 12 } },
        tooltip: { enabled: true },
      },
    },
  };
}

export function drawBarChart(canvas: HTMLCanvasElement, spec: BarChartSpec): DrawnChart {
  const chart = new Chart(canvas, config(canvas, spec));
  return {
    update(next) {
      const { data, options } = config(canvas, next);
      chart.data = data;
      chart.options = options;
      chart.update();
    },
    destroy: () => chart.destroy(),
  };
}
