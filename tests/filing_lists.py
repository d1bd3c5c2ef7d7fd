"""Filing lists shaped like the CAC's attachments, built in the tests (no binary fixtures).

`deep_synthesis_xlsx` has what real lists have: a merged title row, a blank row, header
cells with full-width and trailing spaces, a filer merged over its two algorithms, names
with trailing spaces and full-width brackets, a legal name in traditional characters and a
merged note row below the table. `ROWS` is the batch; `MORE_ROWS` what a longer version adds.
"""

from __future__ import annotations

import io
import zipfile

HEADER = ["序号", "算法名称", "角色", "主体名称 ", "应用产品", "主要用途", "备案编号　", "备注"]
TITLE = "境内深度合成服务算法备案清单（2025年11月）"
# (algorithm, role, filer, product, purpose, number)
ROWS = [
    ("文心一格图像生成算法", "服务提供者", "北京百度網訊科技有限公司  ", "文心一格", "文本生成图像",
     "网信算备110108823483901230011号"),
    # the filer (None) is merged with the row above
    ("度加数字人合成算法", "服务提供者", None, "度加", "数字人视频合成",
     "网信算备110108823483901230029号"),
    ("抖音特效合成算法", "服务提供者", "北京抖音信息服务有限公司", "抖音", "图像特效",
     "网信算备110105199127801230013号"),
    ("星云智绘文本生成算法", "服务提供者", "杭州星云智绘科技有限公司 ", "星云智绘", "文本生成",
     "网信算备330106700000001230015号"),
    ("星云智绘语音合成算法", "技术支持者", "杭州星云智绘科技有限公司", "星云智绘", "语音合成",
     "网信算备330106700000001230023号"),
    ("青禾数字人算法", "服务提供者", "苏州青禾互动网络有限公司", "青禾", "数字人", ""),
]
MORE_ROWS = [
    ("快手可灵视频生成算法", "服务提供者", "北京快手科技有限公司", "可灵", "视频生成",
     "网信算备110108000000001230031号"),
    ("星云智绘图像生成算法", "服务提供者", "杭州星云智绘科技有限公司", "星云智绘", "图像生成",
     "网信算备330106700000001230047号"),
]
NOTE = "注：以上信息按备案时间排序，如有疑问请联系属地网信部门。"


def deep_synthesis_xlsx(rows: list[tuple[str, str, str | None, str, str, str]] = ROWS, *,
                        title: str = TITLE) -> bytes:
    """The list as an XLSX workbook (openpyxl writes it)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    sheet.append([])
    sheet.append(HEADER)
    first = sheet.max_row + 1
    for n, (algorithm, role, filer, product, purpose, number) in enumerate(rows, 1):
        sheet.append([n, algorithm, role, filer, product, purpose, number, ""])
    for offset, row in enumerate(rows):
        if row[2] is None:  # merge the filer cell with the one above
            at = first + offset
            sheet.merge_cells(start_row=at - 1, start_column=4, end_row=at, end_column=4)
    sheet.append([])
    sheet.append([NOTE])
    sheet.merge_cells(start_row=sheet.max_row, start_column=1, end_row=sheet.max_row,
                      end_column=len(HEADER))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def genai_csv_gbk() -> bytes:
    """A generative-AI service list as a GBK CSV with a title line, as Excel in China saves it."""
    lines = [
        "已完成备案的生成式人工智能服务（第三批）,,,",
        "序号,属地,服务名称,备案主体,备案编号",
        "1,北京,文心一言,北京百度网讯科技有限公司,Beijing-WenXinYiYan-20230821S0001",
        "2,北京,智谱清言,北京智谱华章科技有限公司,Beijing-ZhiPuQingYan-20230821S0002",
        "3,上海,星河助手,上海星河未来信息技术有限公司,Shanghai-XingHe-20240105S0011",
        ",,,,",
        "注：排名不分先后,,,,",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def deep_synthesis_html() -> bytes:
    """The list as an HTML table (an announcement page), the filer spanning two rows."""
    return """<!DOCTYPE html><html><head><meta charset="utf-8"><title>公告</title>
<script>var x = "<td>主体名称</td>";</script></head><body>
<p>关于发布第十五批深度合成服务算法备案信息的公告</p>
<table border="1">
<tr><td colspan="5">境内深度合成服务算法备案清单（2025年11月）</td></tr>
<tr><th>序号</th><th>算法名称</th><th>角色</th><th>主体名称</th><th>备案编号</th></tr>
<tr><td>1</td><td>混元生图算法</td><td>服务提供者</td>
    <td rowspan="2">深圳市腾讯计算机系统有限公司</td>
    <td>网信算备440305000000001230019号</td></tr>
<tr><td>2</td><td>腾讯会议虚拟背景算法</td><td>服务提供者</td><td>网信算备440305000000001230027号</td></tr>
<tr><td>3</td><td>A&amp;B 合成算法</td><td>技术支持者</td>
    <td>上海某某&lt;科技&gt;有限公司</td><td></td></tr>
</table></body></html>""".encode()


def zip_bomb_xlsx(unpacked: int = 80 * 1024 * 1024) -> bytes:
    """A zip that poses as an XLSX and declares `unpacked` bytes of zeros (packs to ~80 kB)."""
    out = io.BytesIO()
    chunk = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            for _ in range(unpacked // len(chunk)):
                member.write(chunk)
    return out.getvalue()


def wide_sheet_xlsx(rows: int = 4000) -> bytes:
    """A small workbook whose sheet declares itself 16,384 columns wide (A1:XFD…): a reader
    that sizes rows by the declared dimension builds 16,384 cells a row."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["x"])
    plain = io.BytesIO()
    book.save(plain)
    cells = "".join(f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>x</t></is></c></row>'
                    for n in range(1, rows + 1))
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
             'openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:XFD'
             f'{rows}"/><sheetData>{cells}</sheetData></worksheet>')
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = sheet.encode() if info.filename == "xl/worksheets/sheet1.xml" else src.read(info)
            dst.writestr(info.filename, data)
    return out.getvalue()
