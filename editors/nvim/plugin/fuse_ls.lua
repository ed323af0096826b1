-- fuse-ls: user commands (:FuseReview, :FuseExplain, :FuseFix, :FuseReviewChanges,
-- :FuseCancel, :FuseStats).
-- The language server itself starts through require('fuse_ls').setup() or
-- vim.lsp.enable('fuse_ls'); see :help fuse_ls.
if vim.g.loaded_fuse_ls then
  return
end
vim.g.loaded_fuse_ls = true
if vim.fn.has('nvim-0.11') == 0 then
  return
end
require('fuse_ls').create_user_commands()
-- A new buffer gets the server when it gets a file name, in both styles.
require('fuse_ls.attach').watch_named()
