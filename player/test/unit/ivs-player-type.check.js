/**
 * Not a test file (node --test skips it): `npm run typecheck` compiles it, proving that the real
 * `Player` type of amazon-ivs-player satisfies the structural type the IVS adapter relies on.
 */

/**
 * @param {import('amazon-ivs-player').Player} player
 * @returns {import('../../src/types.js').IvsPlayerLike}
 */
export function asIvsPlayerLike(player) {
  return player;
}
