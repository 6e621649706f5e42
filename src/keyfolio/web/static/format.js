/* keyfolio: exact decimal arithmetic and formatting on the API's decimal STRINGS.
 *
 * Money never becomes a float here: a decimal is {n: BigInt, s: scale}, meaning n / 10^s.
 * Rounding is half-to-even, like Python's Decimal.quantize used by the CLI, so the
 * dashboard and `keyfolio show` print the same digits.
 */
(function () {
  "use strict";

  var PATTERN = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
  var DASH = "\u2014";
  var MINUS = "\u2212";

  function pow10(k) {
    return BigInt(10) ** BigInt(k);
  }

  /** Parse "1234.5", "-0.001", "1E+3" into {n, s}; null for null/empty/garbage. */
  function parse(text) {
    if (text === null || text === undefined) return null;
    if (typeof text === "object" && typeof text.n === "bigint") return text;
    var match = PATTERN.exec(String(text).trim());
    if (!match || (match[2] === "" && !match[3])) return null;
    var frac = match[3] || "";
    var digits = (match[2] || "") + frac;
    var scale = frac.length - (match[4] ? parseInt(match[4], 10) : 0);
    if (scale < 0) {
      digits += "0".repeat(-scale);
      scale = 0;
    }
    var n = BigInt(digits || "0");
    return { n: match[1] === "-" ? -n : n, s: scale };
  }

  function align(a, b) {
    var s = Math.max(a.s, b.s);
    return [a.n * pow10(s - a.s), b.n * pow10(s - b.s), s];
  }

  function add(a, b) {
    var x = align(a, b);
    return { n: x[0] + x[1], s: x[2] };
  }

  function sub(a, b) {
    var x = align(a, b);
    return { n: x[0] - x[1], s: x[2] };
  }

  function mul(a, b) {
    return { n: a.n * b.n, s: a.s + b.s };
  }

  function cmp(a, b) {
    var x = align(a, b);
    return x[0] < x[1] ? -1 : x[0] > x[1] ? 1 : 0;
  }

  function sign(a) {
    return a.n < BigInt(0) ? -1 : a.n > BigInt(0) ? 1 : 0;
  }

  function abs(a) {
    return a.n < BigInt(0) ? { n: -a.n, s: a.s } : a;
  }

  /** num / den rounded half-to-even to an integer (BigInts, den != 0). */
  function divRound(num, den) {
    var zero = BigInt(0);
    if (den < zero) {
      num = -num;
      den = -den;
    }
    var q = num / den;
    var r = num % den;
    if (r === zero) return q;
    var twice = (r < zero ? -r : r) * BigInt(2);
    var away = twice > den || (twice === den && q % BigInt(2) !== zero);
    if (away) q += num < zero ? BigInt(-1) : BigInt(1);
    return q;
  }

  /** a rounded half-to-even to `places` decimals. */
  function round(a, places) {
    if (a.s <= places) return { n: a.n * pow10(places - a.s), s: places };
    return { n: divRound(a.n, pow10(a.s - places)), s: places };
  }

  /** a / b rounded to `places` decimals; null when b is zero. */
  function div(a, b, places) {
    if (b.n === BigInt(0)) return null;
    return { n: divRound(a.n * pow10(b.s + places), b.n * pow10(a.s)), s: places };
  }

  /** Every digit, no exponent: {n: -12345, s: 2} -> "-123.45". */
  function plain(a) {
    var negative = a.n < BigInt(0);
    var digits = (negative ? -a.n : a.n).toString();
    if (a.s > 0) {
      digits = digits.padStart(a.s + 1, "0");
      digits = digits.slice(0, digits.length - a.s) + "." + digits.slice(digits.length - a.s);
    }
    return (negative ? "-" : "") + digits;
  }

  function group(integer) {
    return integer.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  /** Thousands separators and exactly `places` decimals (trimmed when `trim`). */
  function fixed(a, places, trim) {
    var text = plain(round(a, places));
    var negative = text.charAt(0) === "-";
    if (negative) text = text.slice(1);
    var parts = text.split(".");
    var frac = parts[1] || "";
    if (trim) frac = frac.replace(/0+$/, "");
    var out = group(parts[0]) + (frac ? "." + frac : "");
    var isZero = /^[0.,]*$/.test(out);
    return (negative && !isZero ? MINUS : "") + out;
  }

  /** Decimals needed to show `significant` digits of a value below 1. */
  function smallPlaces(a, significant) {
    var digits = abs(a).n.toString();
    var leadingZeros = a.s - digits.length;
    return Math.max(0, leadingZeros) + significant;
  }

  /** "$1,234.56" (2 decimals, half-even); "—" for null. */
  function usd(text) {
    var a = parse(text);
    if (a === null) return DASH;
    var body = fixed(abs(a), 2, false);
    var negative = sign(round(a, 2)) < 0;
    return (negative ? MINUS : "") + "$" + body;
  }

  /** "+$12.34" / "−$12.34" / "$0.00". */
  function signedUsd(text) {
    var a = parse(text);
    if (a === null) return DASH;
    var rounded = round(a, 2);
    var prefix = sign(rounded) > 0 ? "+" : sign(rounded) < 0 ? MINUS : "";
    return prefix + "$" + fixed(abs(a), 2, false);
  }

  /** Amounts: up to 8 decimals without trailing zeros; tiny amounts keep 4 significant digits. */
  function amount(text) {
    var a = parse(text);
    if (a === null) return DASH;
    var places = 8;
    if (sign(a) !== 0 && sign(round(a, 8)) === 0) places = smallPlaces(a, 4);
    return fixed(a, places, true);
  }

  /** Prices: 2 decimals from 1 up; 4 significant digits below 1. */
  function price(text) {
    var a = parse(text);
    if (a === null) return DASH;
    if (sign(a) === 0) return "$0";
    if (cmp(abs(a), parse("1")) >= 0) return "$" + fixed(a, 2, false);
    var text = fixed(a, Math.min(smallPlaces(a, 4), 12), true);
    var decimals = text.indexOf(".") < 0 ? 0 : text.length - text.indexOf(".") - 1;
    if (decimals < 2) text = (decimals === 0 ? text + "." : text) + "0".repeat(2 - decimals);
    return "$" + text;
  }

  /** Percent strings ("3.456" means 3.456 %): "+3.46%". */
  function pct(text, places) {
    var a = parse(text);
    if (a === null) return DASH;
    var p = places === undefined ? 2 : places;
    var rounded = round(a, p);
    var prefix = sign(rounded) > 0 ? "+" : "";
    return prefix + fixed(a, p, false) + "%";
  }

  /** part / whole * 100 as a decimal with `places` decimals; null if either is missing or whole is 0. */
  function share(part, whole, places) {
    var a = parse(part);
    var b = parse(whole);
    if (a === null || b === null) return null;
    return div(mul(a, parse("100")), b, places === undefined ? 1 : places);
  }

  /** A float for chart geometry ONLY (pixel positions), never for printed numbers. */
  function toChartNumber(text) {
    var a = parse(text);
    return a === null ? null : Number(plain(a));
  }

  window.KFDec = {
    parse: parse,
    add: add,
    sub: sub,
    mul: mul,
    div: div,
    cmp: cmp,
    sign: sign,
    abs: abs,
    round: round,
    plain: plain,
    fixed: fixed,
    usd: usd,
    signedUsd: signedUsd,
    amount: amount,
    price: price,
    pct: pct,
    share: share,
    toChartNumber: toChartNumber,
    DASH: DASH,
  };
})();
