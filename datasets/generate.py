"""Generate the fictional Qingdao demo dataset (datasets/qingdao/*.csv).

    python datasets/generate.py [--out DIR] [--seed N] [--smes N]

Every firm, person and figure is invented. The vocabulary comes from the industrial-chain
taxonomy (datasets/taxonomy.json): each SME is given a segment and a handful of that segment's
terms (sometimes written as a synonym or abbreviation), then described in one of several
styles (marketing prose, 经营范围 list, terse product list, specification sheet). A quarter
of the firms also mention words of a capability they do not have (customers, plans, licences
they do not use) so that a ranker cannot win on surface words alone. Chain leaders post
technology and scenario demands aimed at the segments that supply them, phrased with the
solution's name, with a synonym, or only with the problem they see.

The output is a pure function of the seed and the taxonomy: the same command writes the
same bytes (tests/test_datasets.py checks it).
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from matchmaker.taxonomy import Segment, Taxonomy, load_taxonomy  # noqa: E402

SEED = 20260627  # 联合国“中小微企业日”
N_SMES = 3000
OUT = ROOT / "datasets" / "qingdao"

FIRM_HEADER = ["企业名称", "统一社会信用代码", "企业类型", "资质", "所属产业链", "产业链环节", "主营产品", "核心技术", "企业简介", "所在区市"]
DEMAND_HEADER = ["需求编号", "链主企业", "需求类型", "需求名称", "需求描述", "技术指标", "所属产业链", "合作方式", "截止日期"]
RELATION_HEADER = ["企业A", "企业B", "关系类型", "年份"]

# --- credit codes (GB 32100-2015 with a GB 11714 organisation code) ------------------------
CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def datetime_years(founded: int) -> str:
    """Years since founding, as a firm would write it in 2026."""
    return str(max(1, 2026 - founded))


def gb32100_check(first17: str) -> str:
    total = sum(CODE_CHARSET.index(c) * w for c, w in zip(first17, CODE_WEIGHTS))
    return CODE_CHARSET[(31 - total % 31) % 31]


def gb11714_check(body8: str) -> str:
    # GB 11714: digits are worth themselves, letters A=10 … Z=35.
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, ORG_WEIGHTS))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def credit_code(rng: random.Random, region: str) -> str:
    # Organisation codes are mostly digits, with a letter now and then (as on real licences).
    alphabet = "0123456789" * 4 + "ABCDEFGHJKLMNPQRTUWXY"
    body = "".join(rng.choice(alphabet) for _ in range(8))
    first17 = "91" + region + body + gb11714_check(body)
    return first17 + gb32100_check(first17)


# --- places ---------------------------------------------------------------------------
DISTRICTS = [  # name, region code, weight, chains that cluster there
    ("市南区", "370202", 6, ["industrial-internet", "ai", "display", "biomed"]),
    ("市北区", "370203", 7, ["food", "industrial-internet", "smart-equipment"]),
    ("李沧区", "370213", 7, ["eco", "humanoid", "smart-equipment"]),
    ("崂山区", "370212", 13, ["ai", "instrument", "biomed", "home-appliance", "ic", "industrial-internet"]),
    ("城阳区", "370214", 12, ["rail", "instrument", "food", "materials"]),
    ("西海岸新区", "370211", 17, ["marine", "ic", "hydrogen-storage", "nev", "home-appliance", "display"]),
    ("即墨区", "370215", 10, ["nev", "humanoid", "materials", "smart-equipment"]),
    ("胶州市", "370281", 9, ["smart-equipment", "nev", "food", "eco"]),
    ("平度市", "370283", 7, ["materials", "food", "eco"]),
    ("莱西市", "370285", 6, ["nev", "food", "hydrogen-storage"]),
]
OUTSIDE = [  # firms from outside Qingdao that come to the events
    ("济南市历下区", "370102"), ("烟台市莱山区", "370613"), ("潍坊市奎文区", "370705"),
    ("北京市海淀区", "110108"), ("上海市浦东新区", "310115"), ("深圳市南山区", "440305"),
    ("苏州市吴中区", "320506"), ("合肥市蜀山区", "340104"), ("杭州市滨江区", "330108"),
]
PARKS = {
    "市南区": ["青岛国际创新园", "市南软件园"], "市北区": ["中央商务区", "青岛工业设计产业园"],
    "李沧区": ["李沧经济开发区", "青岛虚拟现实产业园"], "崂山区": ["青岛高新区崂山园", "崂山科技城", "金家岭金融区"],
    "城阳区": ["青岛高新区", "城阳轨道交通产业园", "棘洪滩街道工业园"],
    "西海岸新区": ["董家口经济区", "中德生态园", "青岛经济技术开发区", "灵山湾影视文化产业区"],
    "即墨区": ["即墨汽车产业新城", "青岛蓝谷", "即墨经济开发区"], "胶州市": ["胶州经济技术开发区", "上合示范区"],
    "平度市": ["新河生态化工科技产业基地", "平度经济开发区"], "莱西市": ["莱西经济开发区", "姜山新能源汽车产业园"],
}
UNIVERSITIES = ["中国海洋大学", "青岛大学", "山东大学", "中国石油大学（华东）", "青岛科技大学", "青岛理工大学",
                "山东科技大学", "哈尔滨工程大学青岛创新发展基地", "中科院青岛生物能源与过程研究所",
                "北京航空航天大学青岛研究院", "天津大学青岛海洋技术研究院", "西安交通大学青岛研究院"]

# --- chain flavour: name words, figures, certifications ------------------------------------
NAME_WORDS = {  # generic words per chain; segment aliases add the specific ones (压缩机, 滤材, 减速器)
    "home-appliance": ["电器", "家电科技", "智能科技", "电子科技"],
    "display": ["光电", "显示科技", "光电科技"],
    "ic": ["微电子", "半导体", "芯科技", "电子科技"],
    "ai": ["智能科技", "人工智能", "数据科技", "信息技术"],
    "nev": ["新能源科技", "汽车科技", "汽车零部件"],
    "hydrogen-storage": ["新能源科技", "能源技术", "能源科技"],
    "smart-equipment": ["智能装备", "机械", "自动化科技", "智能制造"],
    "humanoid": ["机器人", "机器人科技", "智能科技"],
    "biomed": ["生物科技", "医药科技", "生物技术"],
    "materials": ["新材料", "化工", "材料科技"],
    "food": ["食品", "食品科技", "生物科技"],
    "instrument": ["仪器仪表", "测控技术", "仪器"],
    "rail": ["轨道交通科技", "交通设备", "轨道科技"],
    "industrial-internet": ["信息技术", "软件", "数字科技", "网络科技"],
    "marine": ["海洋科技", "海洋工程", "海洋装备"],
    "eco": ["环保科技", "环境科技", "节能科技", "环境工程"],
}
CERTS = {
    "home-appliance": ["ISO 9001", "CCC认证", "CE认证", "UL认证"], "display": ["ISO 9001", "IATF 16949", "ISO 14001"],
    "ic": ["ISO 9001", "IATF 16949", "AEC-Q100车规认证"], "ai": ["CMMI 3级", "ISO 27001", "等保三级"],
    "nev": ["IATF 16949", "ISO 26262功能安全", "ISO 9001"], "hydrogen-storage": ["ISO 9001", "UL 9540A", "CNAS实验室"],
    "smart-equipment": ["ISO 9001", "CE认证", "两化融合管理体系"], "humanoid": ["ISO 9001", "CE认证", "ISO 13482"],
    "biomed": ["GMP认证", "ISO 13485", "医疗器械注册证"], "materials": ["ISO 9001", "ISO 14001", "IATF 16949"],
    "food": ["ISO 22000", "HACCP认证", "SC食品生产许可"], "instrument": ["CNAS认可", "CMA资质", "计量器具型式批准"],
    "rail": ["IRIS国际铁路行业标准", "CRCC认证", "EN 15085焊接认证"], "industrial-internet": ["CMMI 5级", "ISO 27001", "ITSS运维二级"],
    "marine": ["CCS船级社认证", "DNV认证", "ISO 9001"], "eco": ["环保工程专业承包资质", "ISO 14001", "ISO 9001"],
}
# Figures a segment's products are specified by: {a-b} is a number drawn between a and b
# (with as many decimals as a has), {A-B} a letter.
FIGURES_TEXT = """
home-appliance/compressor-motor|COP≥{1.8-2.3}|噪声≤{35-45}dB(A)|电机效率≥{90-96}%|启动电压≤{160-187}V
home-appliance/controller-chip|待机功耗≤{0.3-0.9}W|EMC满足GB 4343.1|主频≥{48-240}MHz|故障率≤{100-500}PPM
home-appliance/sensor|测温精度±{0.1-0.5}℃|响应时间≤{2-10}s|TDS测量误差≤{2-5}%|寿命≥{5-10}年
home-appliance/heat-exchange|换热效率提升{8-20}%|泄漏率≤{1-5}g/年|耐压≥{4.2-6.0}MPa|铜材用量降低{10-30}%
home-appliance/structural-parts|尺寸公差±{0.05-0.2}mm|色差ΔE≤{0.5-1.0}|翘曲≤{0.2-0.8}mm|盐雾≥{96-500}h
home-appliance/refrigerant-insulation|导热系数≤{16-20}mW/(m·K)|GWP≤{3-150}|发泡密度{30-38}kg/m³|VIP板导热系数≤{3-5}mW/(m·K)
home-appliance/water-filter|脱盐率≥{95-98}%|回收率≥{65-80}%|额定寿命≥{24-60}个月|进水硬度{300-500}mg/L条件下通量衰减≤{15-25}%|纯水产水量≥{1.2-3.0}L/min
home-appliance/refrigerator|日耗电量≤{0.5-0.9}kWh|保鲜期延长{3-10}天|噪声≤{33-38}dB(A)|温度波动≤±{0.3-1.0}℃
home-appliance/aircon|APF≥{4.5-5.5}|-{15-30}℃低温制热量保持率≥{75-95}%|噪声≤{18-25}dB(A)|除湿量≥{1.0-3.0}L/h
home-appliance/laundry|洗净比≥{1.0-1.2}|脱水噪声≤{60-70}dB(A)|除菌率≥{99-99.9}%|单次耗水≤{40-60}L
home-appliance/kitchen-water|吸排风量≥{20-28}m³/min|热效率≥{95-108}%|出水温度波动±{0.5-1.0}℃|一氧化碳排放≤{0.02-0.06}%
home-appliance/water-air|CADR≥{400-1000}m³/h|净化效率≥{95-99.9}%|噪声≤{30-45}dB(A)|甲醛CCM≥{3000-12000}mg
home-appliance/commercial-refrigeration|箱内温度{-86-2}℃|温度均匀性±{1-3}℃|断电保温≥{4-24}h|日耗电降低{10-30}%
home-appliance/channel-service|上门响应≤{2-24}h|一次修复率≥{90-98}%|工单处理量≥{1-50}万单/月|用户满意度≥{95-99}%
home-appliance/smart-home|配网成功率≥{98-99.9}%|联动响应≤{100-500}ms|设备在线率≥{99-99.9}%|支持设备品类≥{20-200}类
home-appliance/voice-interaction|5m处唤醒率≥{92-98}%|24h误唤醒≤{1-3}次|识别准确率≥{92-97}%|整机新增成本≤{5-20}元
display/glass-film|透过率≥{90-95}%|雾度≤{0.5-3}%|厚度{30-100}μm|耐弯折≥{20-50}万次
display/luminescent-materials|LT95寿命≥{200-1000}h|电流效率≥{8-30}cd/A|纯度≥{99.9-99.99}%|色坐标偏差≤{0.002-0.005}
display/driver-ic|通道数≥{960-4000}|刷新率≥{120-240}Hz|功耗降低{10-30}%|灰阶≥{10-14}bit
display/backlight|亮度均匀性≥{85-95}%|分区数≥{500-5000}|光效≥{180-220}lm/W|色温偏差≤{100-300}K
display/display-equipment|漏检率≤{0.1-0.5}%|误检率≤{1-5}%|检测节拍≤{8-30}s/片|对位精度±{2-10}μm
display/panel|对比度≥{1000-5000}:1|刷新率≥{120-240}Hz|分辨率不低于3840×2160|良率≥{90-98}%
display/module|亮度≥{800-2500}nit|工作温度-{30-40}℃~{85-95}℃|触控报点率≥{120-360}Hz|贴合良率≥{98-99.5}%
display/terminal|色域覆盖≥{90-99}% DCI-P3|峰值亮度≥{1000-5000}nit|开机时间≤{3-8}s|整机功耗降低{10-20}%
display/display-app|投屏延迟≤{50-200}ms|支持并发{10-500}路|内容更新周期≤{1-7}天|系统可用性≥{99-99.9}%
ic/eda-ip|仿真速度提升{2-10}倍|支持工艺节点{28-180}nm|时序收敛误差≤{3-8}%|验证覆盖率≥{95-99}%
ic/semi-materials|金属杂质≤{1-10}ppb|颗粒≤{10-100}个/mL|微管密度≤{0.1-1}个/cm²|翘曲≤{20-50}μm
ic/semi-equipment|颗粒增加≤{5-20}个@{30-65}nm|均匀性≤{1-3}%|设备稼动率≥{90-97}%|MTBF≥{500-2000}h
ic/mcu-soc|主频≥{100-600}MHz|工作温度-40℃~{105-150}℃|静态功耗≤{1-20}μA|Flash≥{256-2048}KB
ic/analog-power|转换效率≥{90-97}%|输出纹波≤{10-50}mV|静态电流≤{1-30}μA|温漂≤{5-50}ppm/℃
ic/power-device|耐压{650-1700}V|导通电阻≤{8-40}mΩ|工作结温≥{175-200}℃|开关损耗降低{15-40}%
ic/sensor-chip|零偏稳定性≤{1-10}°/h|灵敏度误差≤±{1-3}%|功耗≤{0.5-5}mA|封装尺寸≤{2-5}mm×{2-5}mm
ic/rf-comm|插入损耗≤{0.8-2.0}dB|输出功率≥{20-33}dBm|噪声系数≤{0.8-2.5}dB|工作频段{2-77}GHz
ic/wafer-fab|良率≥{95-99.5}%|工艺节点{28-180}nm|月产能≥{1-5}万片|缺陷密度≤{0.05-0.3}个/cm²
ic/packaging-test|封装良率≥{99-99.9}%|热阻≤{0.1-0.5}K/W|测试覆盖率≥{95-99.5}%|通过AEC-Q{100-101}认证
ic/ic-app|开发周期≤{3-9}个月|BOM成本降低{10-30}%|Pin to Pin兼容|交付周期≤{4-12}周
ai/compute|算力≥{100-2000}PFLOPS|PUE≤{1.1-1.3}|GPU利用率≥{60-90}%|单柜功率≥{20-120}kW
ai/data-service|标注准确率≥{97-99.5}%|数据量≥{10-500}万张|交付周期≤{7-30}天|缺陷样本≥{2000-20000}例
ai/cv|识别准确率≥{95-99.8}%|误报率≤{0.5-3}%|单帧推理≤{20-100}ms|最小可检缺陷{0.05-0.5}mm
ai/speech|识别准确率≥{93-98}%|5m唤醒率≥{92-98}%|端到端时延≤{200-800}ms|支持方言≥{3-20}种
ai/nlp-llm|问答准确率≥{85-95}%|幻觉率≤{2-8}%|首字时延≤{0.5-2}s|支持私有化部署显存≤{24-80}GB
ai/ml-platform|模型上线周期≤{1-14}天|推理吞吐提升{2-5}倍|支持国产芯片≥{2-6}种|并发任务≥{50-500}个
ai/ai-industry|漏检率≤{0.05-0.5}%|误检率≤{0.5-3}%|节拍≤{0.5-3}s/件|预测准确率≥{85-95}%
ai/ai-city|事件识别准确率≥{90-98}%|接入视频≥{1000-20000}路|响应时间≤{1-10}s|通行效率提升{10-25}%
ai/ai-consumer|问题解决率≥{80-95}%|并发会话≥{1000-20000}|人工替代率≥{30-70}%|响应≤{1-3}s
nev/battery-materials|克容量≥{155-210}mAh/g|首效≥{88-95}%|压实密度≥{2.4-3.6}g/cm³|循环{2000-6000}次容量保持率≥80%
nev/battery-system|能量密度≥{160-300}Wh/kg|SOC估算误差≤{1-3}%|热失控后{5-60}min不起火|-20℃续航保持率≥{70-85}%
nev/e-drive|峰值效率≥{95-98.5}%|功率密度≥{3-8}kW/kg|最高转速≥{16000-30000}rpm|NVH满足{72-78}dB(A)
nev/thermal-management|-20℃制热COP≥{1.5-2.5}|电池温差≤{2-5}℃|除雾时间≤{2-5}min|冬季续航提升{10-25}%
nev/chassis-body|减重≥{10-30}%|制动响应≤{100-200}ms|扭转刚度≥{25000-45000}N·m/deg|铸件气孔率≤{0.5-2}%
nev/intelligent-driving|AEB误触发≤{1-5}次/万公里|探测距离≥{150-300}m|接管里程≥{100-500}km|满足ASIL-{B-D}
nev/smart-cockpit|语音识别率≥{95-98}%|冷启动≤{2-8}s|OTA成功率≥{99-99.9}%|HUD虚像距离≥{7-15}m
nev/vehicle|下线检测时间≤{3-10}min|整车一次合格率≥{95-99}%|单车制造成本降低{3-10}%|总装节拍≤{45-90}s
nev/charging|充电功率≥{240-600}kW|充电10%-80%≤{12-20}min|模块效率≥{95-97}%|桩故障率≤{0.5-2}%
nev/aftermarket|锂回收率≥{90-98}%|残值评估误差≤{3-8}%|单包检测时间≤{10-60}min|拆解效率≥{500-5000}包/年
hydrogen-storage/h2-production|直流电耗≤{4.0-4.6}kWh/Nm³|产氢量{200-3000}Nm³/h|负荷调节范围{10-30}%~110%|氢气纯度≥{99.99-99.999}%
hydrogen-storage/h2-storage|储氢质量密度≥{4.5-6.0}wt%|工作压力{35-70}MPa|循环≥{11000-15000}次|泄漏率≤{0.01-0.1}mL/h
hydrogen-storage/fuel-cell|额定功率≥{80-200}kW|寿命≥{15000-30000}h|-{30-40}℃冷启动|铂载量≤{0.1-0.4}g/kW
hydrogen-storage/energy-storage|系统循环效率≥{85-92}%|电芯温差≤{2-5}℃|循环寿命≥{6000-12000}次|单柜容量≥{2-6}MWh
hydrogen-storage/h2-application|加注时间≤{5-15}min|日加注能力≥{500-2000}kg|百公里氢耗≤{6-12}kg|加氢站利用率≥{40-80}%
hydrogen-storage/storage-application|峰谷套利收益提升{10-30}%|需量电费降低{10-25}%|调度响应≤{1-5}s|投资回收期≤{5-8}年
smart-equipment/control-drive|定位精度±{1-10}μm|速度环带宽≥{1-3}kHz|编码器分辨率≥{20-26}bit|通讯周期≤{125-1000}μs
smart-equipment/precision-parts|导程精度≤{3-10}μm/300mm|寿命≥{10000-30000}h|温升≤{10-25}℃|重复定位精度±{1-5}μm
smart-equipment/machine-tool|定位精度±{0.003-0.01}mm|表面粗糙度Ra≤{0.2-0.8}μm|主轴转速≥{10000-40000}rpm|热变形≤{5-15}μm
smart-equipment/industrial-robot|负载{5-500}kg|重复定位精度±{0.02-0.08}mm|节拍≤{10-40}s/件|臂展{700-3200}mm
smart-equipment/vision-inspection|漏检率≤{0.01-0.5}%|误检率≤{0.5-3}%|检测节拍≤{0.3-3}s/件|最小缺陷{0.02-0.3}mm
smart-equipment/laser-additive|激光功率{1-30}kW|焊缝气孔率≤{0.5-2}%|致密度≥{99.5-99.9}%|成形尺寸≥{250-800}mm
smart-equipment/intralogistics|定位精度±{5-10}mm|载重{500-3000}kg|库存准确率≥{99.5-99.99}%|搬运效率提升{30-60}%
smart-equipment/automation-line|节拍≤{20-90}s|换型时间≤{10-60}min|OEE≥{75-90}%|用工减少{30-70}%
smart-equipment/equipment-service|非计划停机减少{20-50}%|故障预警准确率≥{85-95}%|响应≤{2-24}h|OEE提升{5-15}个百分点
humanoid/reducer|背隙≤{5-30}arcsec|传动精度≤{30-60}arcsec|额定寿命≥{8000-20000}h|扭转刚度≥{5-30}N·m/arcmin
humanoid/actuator|峰值扭矩≥{50-400}N·m|扭矩密度≥{20-60}N·m/kg|重量≤{0.5-2.5}kg|控制带宽≥{50-200}Hz
humanoid/screw|额定动载≥{10-60}kN|导程精度≤{5-15}μm/300mm|寿命≥{1-10}百万次|直径{8-30}mm
humanoid/robot-sensor|六维力测量误差≤{0.5-2}%FS|串扰≤{1-3}%|触觉分辨率≤{1-4}mm|采样率≥{500-2000}Hz
humanoid/dexterous-hand|自由度≥{6-22}|指尖力≥{10-30}N|寿命≥{20-100}万次|重量≤{0.4-1.2}kg
humanoid/robot-brain|任务成功率≥{80-95}%|控制频率≥{500-1000}Hz|新任务学习≤{10-100}条演示|抗扰动恢复≥{50-200}N
humanoid/body-integration|续航≥{2-8}h|整机重量≤{40-70}kg|行走速度≥{1.5-3.5}m/s|单台成本降低{15-40}%
humanoid/robot-application|连续作业≥{4-16}h|任务完成率≥{90-99}%|替代人工{1-3}人/台|投资回收期≤{1-3}年
biomed/bio-supplies|内毒素≤{0.01-0.5}EU/mL|批间差≤{5-10}%|细胞密度≥{1-20}×10⁶/mL|载量≥{40-80}g/L
biomed/pharma-equipment|冻干周期缩短{10-30}%|灌装精度±{0.5-1}%|灯检漏检率≤{0.01-0.1}%|满足GMP附录1要求
biomed/innovative-drugs|IC50≤{1-100}nM|口服生物利用度≥{20-60}%|杂质≤{0.1-0.5}%|临床前周期≤{12-24}个月
biomed/cell-gene|病毒滴度≥{1-10}×10⁸TU/mL|转导效率≥{30-70}%|细胞活率≥{85-95}%|制备周期≤{7-14}天
biomed/marine-bio|纯度≥{90-99}%|提取率≥{5-20}%|分子量分布PDI≤{1.2-1.8}|重金属≤{0.5-2}mg/kg
biomed/ivd|检测限≤{0.01-1}ng/mL|灵敏度≥{95-99}%|特异性≥{95-99.5}%|出结果时间≤{15-60}min
biomed/medical-devices|图像分辨率≤{0.2-0.5}mm|定位精度±{0.5-2}mm|使用寿命≥{5-10}年|连续工作≥{24-72}h
biomed/cro-cdmo|工艺放大≥{200-2000}L|项目交付周期≤{6-18}个月|批次成功率≥{95-99}%|入组周期缩短{20-40}%
biomed/health-service|冷链温度{2-8}℃全程可追溯|配送时效≤{2-24}h|温度超标报警≤{1-5}min|药品追溯率100%
materials/basic-chemicals|纯度≥{99.5-99.99}%|收率≥{85-98}%|单耗降低{5-20}%|水分≤{50-500}ppm
materials/fine-chem|添加量≤{0.1-2}%|热分解温度≥{250-350}℃|析出等级≤{1-2}级|VOC≤{10-50}μgC/g
materials/electronic-chemicals|金属离子≤{10-100}ppt|颗粒(≥0.05μm)≤{10-100}个/mL|纯度≥{99.999-99.9999}%|批次一致性CV≤{1-3}%
materials/polymer|拉伸强度≥{40-180}MPa|热变形温度≥{120-260}℃|缺口冲击强度≥{8-60}kJ/m²|阻燃UL94 V-{0-1}
materials/rubber-tire|滚动阻力系数≤{5.5-7.5}N/kN|湿滑等级{A-B}级|耐磨指数≥{100-140}|压缩永久变形≤{10-25}%
materials/coatings-adhesives|中性盐雾≥{1000-5000}h|附着力{0-1}级|VOC≤{50-200}g/L|剪切强度≥{10-35}MPa
materials/composites|拉伸强度≥{1500-4000}MPa|孔隙率≤{0.5-2}%|减重≥{20-50}%|成型周期≤{3-20}min
materials/metal-materials|抗拉强度≥{300-1500}MPa|延伸率≥{8-20}%|磁能积≥{40-52}MGOe|耐蚀性提升{2-5}倍
materials/advanced-carbon|导热系数≥{800-1500}W/(m·K)|比表面积≥{200-1500}m²/g|电导率≥{1000-100000}S/m|批次稳定性CV≤{2-5}%
materials/material-service|检测周期≤{3-15}个工作日|失效分析报告≤{5-20}天|CNAS认可项目≥{50-500}项|配方开发周期≤{1-6}个月
food/agri-raw|蛋白质含量≥{10-14}%|农残合格率100%|供货量≥{1000-50000}吨/年|含水量≤{12-14}%
food/food-ingredients|甜度为蔗糖的{0.6-300}倍|活菌数≥{10-100}亿CFU/g|添加量≤{0.05-1}%|保质期≥{12-24}个月
food/food-packaging|氧气透过率≤{0.5-5}cc/(m²·d)|减重{5-20}%|破损率≤{0.01-0.1}%|可回收比例≥{80-100}%
food/food-machinery|灌装速度≥{12000-60000}瓶/h|灌装精度±{0.5-2}mL|CIP耗水降低{20-40}%|异物检出≥{0.3-1.5}mm金属
food/beer-beverage|保质期≥{6-12}个月|浊度≤{0.5-1.0}EBC|含糖量≤{0.5-5}g/100mL|风味稳定性提升{20-50}%
food/food-processing|复热后口感评分≥{8-9}分|解冻失水率≤{3-8}%|菌落总数≤{100-1000}CFU/g|保质期≥{6-18}个月
food/cold-chain|温度{-18-8}℃全程监控|货损率≤{0.5-2}%|准时率≥{95-99}%|温度记录间隔≤{1-5}min
food/food-market|复购率提升{10-30}%|终端覆盖≥{1-10}万家|扫码率≥{5-30}%|库存周转天数≤{15-45}天
food/food-safety|检测时间≤{10-60}min|检出限≤{0.01-0.1}mg/kg|追溯覆盖率100%|假阳性率≤{1-5}%
instrument/core-sensors|精度±{0.05-0.5}%FS|长期稳定性≤{0.1-0.5}%FS/年|工作温度-{20-40}℃~{85-125}℃|防护等级IP{65-68}
instrument/optical-components|透过率≥{95-99.5}%|面形精度≤λ/{4-20}|损伤阈值≥{5-20}J/cm²|光谱分辨率≤{0.1-1}nm
instrument/analytical|检出限≤{0.001-0.1}μg/L|重复性RSD≤{0.5-3}%|分析时间≤{3-30}min|分辨率≥{10000-100000}
instrument/process-meters|测量精度±{0.1-0.5}%|量程比≥{10-100}:1|防爆Ex d IIC T{4-6}|功耗≤{0.5-5}W
instrument/electronic-test|带宽≥{1-20}GHz|采样率≥{5-80}GSa/s|测量不确定度≤{0.05-0.5}%|测试效率提升{30-80}%
instrument/env-ocean-monitoring|COD测量误差≤±{5-10}%|免维护周期≥{30-180}天|工作水深≥{200-6000}m|数据有效率≥{90-99}%
instrument/metrology-service|校准周期≤{3-10}个工作日|测量不确定度k=2下≤{0.02-0.2}%|覆盖参数≥{50-500}项|现场校准响应≤{24-72}h
rail/carbody-materials|减重≥{10-25}%|焊缝合格率≥{99-99.9}%|满足EN 45545 HL{2-3}|平面度≤{1-3}mm/m
rail/traction-electrical|变流器效率≥{97-99}%|功率密度提升{15-40}%|MTBF≥{50000-150000}h|谐波含量≤{3-5}%
rail/bogie-brake|临界速度≥{400-550}km/h|制动距离≤{3200-6500}m|闸片寿命≥{30-80}万km|轴承寿命≥{240-480}万km
rail/interior-auxiliary|客室噪声≤{62-70}dB(A)|门系统故障率≤{0.5-2}次/百万次|座椅减重≥{10-30}%|空调温差≤{1-3}℃
rail/signaling|追踪间隔≤{90-120}s|安全完整性SIL{2-4}|车地通信时延≤{50-150}ms|可用性≥{99.9-99.999}%
rail/rail-vehicle|最高运营速度{80-400}km/h|车内噪声≤{62-72}dB(A)|调试周期缩短{10-30}%|百万公里故障率≤{0.1-1}件
rail/rail-om|故障识别准确率≥{95-99}%|检测精度±{0.1-0.5}mm|巡检效率提升{30-200}%|漏检率≤{0.1-1}%
industrial-internet/iiot-hardware|支持协议≥{20-200}种|采集频率≥{1-1000}Hz|时延≤{1-20}ms|工作温度-{20-40}℃~{70-85}℃
industrial-internet/design-sim|仿真误差≤{3-10}%|求解速度提升{2-10}倍|兼容主流格式≥{10-30}种|设计周期缩短{20-50}%
industrial-internet/production-control|报工准确率≥{98-99.9}%|排产计算≤{1-10}min|追溯响应≤{1-10}s|在制品减少{10-40}%
industrial-internet/management-software|并发用户≥{500-10000}|月结时间缩短{30-70}%|库存准确率≥{98-99.9}%|接口对接≥{10-50}个系统
industrial-internet/iiot-platform|设备接入≥{1000-100000}台|可用性≥{99.9-99.99}%|模型上线周期≤{1-4}周|数据延迟≤{1-5}s
industrial-internet/industrial-security|检测准确率≥{95-99.5}%|吞吐≥{1-10}Gbps|时延≤{50-500}μs|满足等保2.0三级
industrial-internet/digital-transformation|诊断周期≤{2-8}周|项目交付≤{3-12}个月|生产效率提升{10-30}%|运营成本降低{5-20}%
marine/marine-parts|油耗降低{5-15}%|NOx排放满足Tier III|MTBF≥{10000-50000}h|振动≤{2-6}mm/s
marine/marine-electronics|定位精度≤{0.1-2}m|通信距离≥{5-50}km|工作水深≥{300-6000}m|数据速率≥{1-50}kbps
marine/shipbuilding|建造周期缩短{10-25}%|焊接一次合格率≥{96-99.5}%|涂装VOC减少{20-50}%|能效设计指数降低{10-30}%
marine/offshore|抗风等级≥{12-17}级|设计寿命≥{20-30}年|养殖水体≥{5-15}万m³|定位精度≤{1-3}m
marine/underwater|工作水深≥{300-6000}m|续航≥{8-720}h|航速{2-6}节|定位精度≤{0.5-5}m
marine/marine-services|出海作业窗口利用率提升{10-30}%|数据回传≥{90-99}%|运维成本降低{10-30}%|监测要素≥{8-30}项
eco/env-materials|吸附容量≥{100-600}mg/g|使用寿命≥{1-5}年|投加量降低{10-40}%|脱硝效率≥{85-95}%
eco/water-treatment|COD去除率≥{85-98}%|出水总氮≤{10-15}mg/L|吨水处理成本≤{1.5-8}元|产水回收率≥{70-95}%
eco/air-treatment|VOCs去除率≥{90-99}%|排放浓度≤{10-50}mg/m³|颗粒物≤{5-10}mg/m³|运行能耗降低{10-40}%
eco/solid-waste|资源化率≥{60-95}%|处置能力≥{50-1000}吨/日|二噁英≤{0.05-0.1}ngTEQ/m³|杂质率≤{1-5}%
eco/energy-saving|节能率≥{10-35}%|COP≥{3-6}|出水温度≥{80-150}℃|投资回收期≤{2-5}年
eco/env-services|碳核算误差≤{3-5}%|监测数据有效率≥{90-99}%|节能量≥{500-20000}吨标煤/年|服务响应≤{2-24}h
"""
FIGURES = {line.split("|")[0]: line.split("|")[1:] for line in FIGURES_TEXT.strip().splitlines()}
GENERIC_FIGURES = ["交付周期≤{15-60}天", "产品不良率≤{100-1000}PPM", "成本较现用方案降低{5-25}%", "质保期≥{1-5}年",
                   "年供货能力≥{5-200}万件", "通过第三方检测认证"]

TIER_CX = "专精特新“小巨人”"


@dataclass
class Firm:
    name: str
    code: str
    role: str                      # 链主企业 | 中小企业
    district: str
    chain_id: str
    segment: Segment | None = None
    tiers: list[str] = field(default_factory=list)
    chains: list[str] = field(default_factory=list)
    seg_labels: list[str] = field(default_factory=list)
    products: str = ""
    technologies: str = ""
    description: str = ""
    short: str = ""
    year: int = 2015
    decoy: str | None = None       # segment whose words the firm uses without having the capability

    def row(self) -> list[str]:
        return [self.name, self.code, self.role, "；".join(self.tiers), "；".join(self.chains),
                "；".join(self.seg_labels), self.products, self.technologies, self.description, self.district]


# --- chain leaders (all invented) ---------------------------------------------------------
LEADERS = [
    # chain id, name, short, district, products, technologies, prose, own segments
    ("home-appliance", "崂澜智慧家电集团股份有限公司", "崂澜", "崂山区",
     "冰箱、冷柜、空调、洗衣机、热水器、净水机、厨房电器", "变频控制、智慧家庭平台、精控保鲜、低碳冷媒",
     "崂澜集团是以家用电器为主业的大型制造集团，在国内外建有十余个工业园，冰箱、洗衣机产量位居国内前列，近年来推动核心零部件本地化配套和互联工厂建设。",
     ["home-appliance/whole-machine"]),
    ("display", "蔚屏视讯科技集团有限公司", "蔚屏", "市南区",
     "液晶电视、激光电视、Mini LED电视、商用显示、会议平板、车载显示屏", "画质芯片、多分区背光控制、激光光学引擎",
     "蔚屏视讯深耕显示终端三十年，业务覆盖家用电视、商用显示和车载显示，在青岛建有整机智能制造基地和显示技术研究院。",
     ["display/terminal", "display/module"]),
    ("ic", "琴芯半导体集团有限公司", "琴芯", "西海岸新区",
     "12英寸特色工艺晶圆、功率半导体、MCU、模拟芯片、封装测试服务", "BCD工艺、SiC功率器件、车规级芯片设计、先进封装",
     "琴芯半导体是集芯片设计、晶圆制造、封装测试于一体的IDM企业，12英寸特色工艺产线已量产，正加快设备、材料和零部件的本地配套。",
     ["ic/wafer-fab", "ic/packaging-test", "ic/power-device"]),
    ("ai", "启衡智算科技集团有限公司", "启衡", "崂山区",
     "智算中心、行业大模型、AI质检平台、城市治理平台", "多模态大模型、视觉算法、算力调度",
     "启衡智算运营青岛规模最大的智算中心之一，面向制造、港口、城市治理输出行业大模型和视觉算法。",
     ["ai/compute", "ai/nlp-llm", "ai/ai-city"]),
    ("nev", "胶澳新能源汽车集团有限公司", "胶澳", "即墨区",
     "纯电动乘用车、插电混动乘用车、电动轻卡、电池包", "整车电子电气架构、电池包集成、整车热管理",
     "胶澳汽车在即墨、莱西布局两大整车基地，年产能40万辆，正推进三电系统和智能驾驶零部件的本地化配套。",
     ["nev/vehicle", "nev/battery-system"]),
    ("nev", "莱川重型汽车股份有限公司", "莱川重汽", "莱西市",
     "电动重卡、氢燃料电池重卡、专用车、港口牵引车", "换电重卡平台、燃料电池动力系统集成",
     "莱川重汽专注新能源商用车，换电重卡和氢燃料电池重卡已在港口、矿区批量运营。",
     ["nev/vehicle"]),
    ("hydrogen-storage", "蓝港氢能储能科技集团股份有限公司", "蓝港氢能", "西海岸新区",
     "碱性电解槽、PEM电解槽、储能系统、加氢站、光储充一体化电站", "大标方电解槽、液冷储能、源网荷储一体化",
     "蓝港氢能围绕绿电制氢和新型储能布局，建有电解槽和储能系统两大生产基地，在青岛港区运营多座加氢站和储能电站。",
     ["hydrogen-storage/h2-production", "hydrogen-storage/energy-storage"]),
    ("smart-equipment", "鼎岳智能装备集团股份有限公司", "鼎岳", "胶州市",
     "五轴加工中心、数控车床、工业机器人工作站、自动化产线", "数控系统二次开发、产线集成、机床热补偿",
     "鼎岳智能装备是北方重要的数控机床和自动化产线供应商，产品服务汽车、工程机械和家电行业。",
     ["smart-equipment/machine-tool", "smart-equipment/automation-line"]),
    ("humanoid", "极擎机器人科技集团有限公司", "极擎", "李沧区",
     "通用人形机器人、四足机器人、协作机器人、关节模组", "全身运动控制、具身大模型、一体化关节",
     "极擎机器人从协作机器人起步，现已推出两代通用人形机器人，正在建设年产千台级整机产线。",
     ["humanoid/body-integration", "humanoid/robot-brain"]),
    ("biomed", "海澄生物医药集团股份有限公司", "海澄", "崂山区",
     "海洋创新药、生物药、体外诊断试剂、医用敷料", "海洋糖类药物、抗体药物开发、化学发光平台",
     "海澄生物医药以海洋药物起家，拥有化药、生物药和诊断试剂三大板块，在崂山和西海岸建有GMP生产基地。",
     ["biomed/innovative-drugs", "biomed/marine-bio"]),
    ("materials", "平川化工新材料集团股份有限公司", "平川化工", "平度市",
     "改性塑料、特种橡胶、电子级化学品、水处理剂", "高分子改性、电子化学品纯化、连续流反应",
     "平川化工位于平度新河化工基地，从基础化工原料延伸到改性塑料、电子化学品和精细化学品，服务家电、汽车和半导体客户。",
     ["materials/polymer", "materials/electronic-chemicals"]),
    ("materials", "瑞岭轮胎科技股份有限公司", "瑞岭轮胎", "西海岸新区",
     "半钢子午线轮胎、全钢子午线轮胎、非公路轮胎", "液体黄金胶料、低滚阻配方、智能轮胎",
     "瑞岭轮胎是青岛轮胎产业集群的骨干企业，在国内外建有四个生产基地，绿色轮胎占比超过八成。",
     ["materials/rubber-tire"]),
    ("food", "崂泉啤酒饮品集团有限公司", "崂泉", "市北区",
     "纯生啤酒、原浆啤酒、精酿啤酒、苏打水、植物蛋白饮料", "低温酿造、纯生保鲜、数字化营销",
     "崂泉集团是有百年历史的啤酒饮料企业，在全国拥有二十余家工厂，同时发展饮料和海洋健康食品业务。",
     ["food/beer-beverage"]),
    ("food", "琴味食品集团股份有限公司", "琴味", "城阳区",
     "即食海参、速冻调理食品、预制菜、复合调味料、特医食品", "低温加工、冻干技术、中央厨房标准化",
     "琴味食品立足城阳特种食品产业集群，产品覆盖海洋食品、速冻食品和预制菜，建有冷链配送网络。",
     ["food/food-processing"]),
    ("instrument", "衡准精密仪器集团股份有限公司", "衡准", "城阳区",
     "分析仪器、在线水质监测仪、智能流量计、海洋观测仪器", "光谱分析、智能传感、海洋仪器耐压密封",
     "衡准仪器是国内较早从事在线分析仪器和海洋仪器的企业，牵头组建青岛高新区精密仪器仪表产业集群。",
     ["instrument/analytical", "instrument/env-ocean-monitoring", "instrument/process-meters"]),
    ("rail", "华驰轨道交通装备集团有限公司", "华驰轨道", "城阳区",
     "高速动车组、城际列车、地铁车辆、磁浮列车", "轻量化车体、智能运维、列车网络控制",
     "华驰轨道是我国高速动车组的主要研制企业之一，在城阳建有整车制造基地，配套企业数百家。",
     ["rail/rail-vehicle", "rail/rail-om"]),
    ("industrial-internet", "织云工业互联网科技集团有限公司", "织云", "崂山区",
     "工业互联网平台、MES、供应链协同平台、标识解析二级节点", "工业机理模型、低代码、工业大数据",
     "织云是国家级跨行业跨领域工业互联网平台的运营商之一，服务家电、机械、化工等行业数千家工厂。",
     ["industrial-internet/iiot-platform", "industrial-internet/production-control"]),
    ("marine", "远溟海洋装备集团股份有限公司", "远溟", "西海岸新区",
     "海洋工程平台、深远海养殖工船、海上风电安装船、科考船", "海工总装、深海网箱、动力定位",
     "远溟海洋装备在西海岸建有大型海工基地，近年交付多艘养殖工船和风电安装船。",
     ["marine/offshore", "marine/shipbuilding"]),
    ("eco", "澄碧节能环保集团股份有限公司", "澄碧", "李沧区",
     "污水处理厂运营、工业废水零排放、垃圾焚烧发电、综合能源服务", "MBR工艺、蒸发结晶、智慧水务",
     "澄碧环保运营青岛及周边三十余座污水处理厂和两座垃圾焚烧厂，并为工业园区提供综合能源和环境服务。",
     ["eco/water-treatment", "eco/env-services"]),
]


class Gen:
    def __init__(self, tx: Taxonomy, seed: int, n_smes: int):
        self.tx = tx
        self.rng = random.Random(seed)
        self.n_smes = n_smes
        self.codes: set[str] = set()
        self.names: set[str] = set()
        self.firms: list[Firm] = []
        self.leaves = [s for s in tx.segments.values() if not tx.children(s.id)]
        self.leaves_by_chain: dict[str, list[Segment]] = {}
        for s in self.leaves:
            self.leaves_by_chain.setdefault(s.chain_id, []).append(s)
        self.syn = {}
        for group in tx.synonyms:
            for t in group:
                self.syn.setdefault(t, [x for x in group if x != t])

    # -- small helpers --------------------------------------------------------------------
    def pick(self, seq, k=None):
        return self.rng.choice(seq) if k is None else self.rng.sample(seq, min(k, len(seq)))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def figure(self, template: str) -> str:
        def draw(m: re.Match) -> str:
            lo, hi = m.group(1), m.group(2)
            if re.fullmatch(r"[A-Z]", lo):
                return chr(self.rng.randint(ord(lo), ord(hi)))
            dec = max(len(x.split(".")[1]) if "." in x else 0 for x in (lo, hi))
            v = self.rng.uniform(float(lo), float(hi))
            return f"{v:.{dec}f}" if dec else str(int(round(v)))
        return re.sub(r"\{(-?[\w.]+)-(-?[\w.]+)\}", draw, template)

    def figures(self, seg: Segment, k: int) -> list[str]:
        own = FIGURES[seg.id]
        chosen = self.pick(own, min(k, len(own)))
        if k > len(own) or self.chance(0.15):
            chosen.append(self.pick(GENERIC_FIGURES))
        return [self.figure(t) for t in chosen]

    def variant(self, term: str, p: float = 0.35) -> str:
        """The term as written, or one of its synonyms / abbreviations."""
        alts = self.syn.get(term)
        return self.pick(alts) if alts and self.chance(p) else term

    def new_code(self, region: str) -> str:
        while True:
            c = credit_code(self.rng, region)
            if c not in self.codes:
                self.codes.add(c)
                return c

    # -- firms --------------------------------------------------------------------------
    def make_leaders(self) -> None:
        for chain_id, name, short, district, products, techs, prose, own in LEADERS:
            region = next(r for d, r, _, _ in DISTRICTS if d == district)
            chain = self.tx.chain(chain_id)
            f = Firm(name=name, code=self.new_code(region), role="链主企业", district=district, chain_id=chain_id,
                     chains=[chain.name], seg_labels=[self.tx.segments[s].name for s in own],
                     products=products, technologies=techs, description=prose, short=short,
                     year=self.rng.randint(1950, 2005))
            f.own = own
            self.names.add(name)
            self.firms.append(f)

    BRAND = ("海岳澜瑞恒泰华拓启明德源峰睿晟宏达创科信诺鼎盛嘉合远航凯联云汇精诚正博通卓越"
             "琴岳崂胶蓝沧明辉耀新锐智鑫润泽安康宇宙星辰光弘毅隆昌盈昇舜禾丰祥麒骏驰骐翔龙凤"
             "青柏松竹兰芷蔚澄清浩瀚溟洋湾港屿帆舟锦绣朗晖昱晨旭阳景弈衡准铂钛硕研致远臻")

    # Brands that would read as real Qingdao companies are never invented.
    TAKEN = ("海尔", "海信", "澳柯玛", "中车", "青啤", "青岛啤酒", "双星", "赛轮", "软控", "歌尔", "特锐德", "汉缆", "海湾",
             "明月", "黄海", "崂山", "京东方", "芯恩", "惠科", "国华")

    def brand(self) -> str:
        while True:
            b = "".join(self.pick(self.BRAND, 2))
            if b not in self.TAKEN:
                return b

    def firm_name(self, seg: Segment, outside: str | None) -> tuple[str, str]:
        # aliases that read as a trade (压缩机, 滤材), not ones that name a part or a role (电脑板, 集成商)
        specific = [a for a in seg.aliases if len(a) <= 4 and re.fullmatch(r"[\u4e00-\u9fff]+", a)
                    and not a.endswith(("商", "板", "件", "链", "端", "层", "化"))
                    and a not in ("大脑", "小脑", "本体", "整机", "算法", "模型", "场景", "应用", "解决方案", "服务")]
        words = NAME_WORDS[seg.chain_id] + specific * 2
        for _ in range(200):
            b, w = self.brand(), self.pick(words)
            if w in ("电机", "传感器", "滤芯", "压缩机", "芯片", "软件") and self.chance(0.5):
                w += self.pick(["科技", "技术"])
            kind = self.pick(["有限公司"] * 8 + ["股份有限公司"] * 2)
            if outside:
                city = outside[:2]
                name = self.pick([f"{city}{b}{w}{kind}", f"{b}{w}（{city}）{kind}"])
            else:
                name = self.pick([f"青岛{b}{w}{kind}"] * 6 + [f"{b}{w}（青岛）{kind}", f"山东{b}{w}{kind}",
                                  f"青岛{b}{w}{self.pick(['集团', '控股'])}有限公司"])
            if name not in self.names and not any(t in name for t in self.TAKEN):
                self.names.add(name)
                return name, b
        raise RuntimeError("could not invent a unique firm name")

    def tiers(self) -> list[str]:
        r = self.rng.random()
        tiers = ([] if r < 0.05 else ["创新型中小企业"] if r < 0.56 else ["专精特新中小企业"] if r < 0.92 else [TIER_CX])
        if self.chance(0.06):
            tiers.append("瞪羚企业")
        elif self.chance(0.05):
            tiers.append("雏鹰企业")
        if TIER_CX in tiers and self.chance(0.03):
            tiers.append("独角兽企业")
        return tiers

    def district(self, chain_id: str) -> tuple[str, str, bool]:
        if self.chance(0.06):
            d, r = self.pick(OUTSIDE)
            return d, r, True
        weights = [w * (3 if chain_id in clusters else 1) for _, _, w, clusters in DISTRICTS]
        d, r, _, _ = self.rng.choices(DISTRICTS, weights=weights)[0]
        if d == "西海岸新区" and self.chance(0.3):
            d = "黄岛区"
        return d, r, False

    def make_smes(self) -> None:
        # Weight segments so that chains with more segments do not crowd out the others.
        weights = [1.0 / len(self.leaves_by_chain[s.chain_id]) ** 0.5 for s in self.leaves]
        for i in range(self.n_smes):
            seg = self.rng.choices(self.leaves, weights=weights)[0]
            district, region, outside = self.district(seg.chain_id)
            name, brand = self.firm_name(seg, district if outside else None)
            f = Firm(name=name, code=self.new_code(region), short=brand,
                     role="中小企业", district=district, chain_id=seg.chain_id, segment=seg, tiers=self.tiers(),
                     year=self.rng.choices(range(1995, 2025), weights=[1] * 10 + [2] * 10 + [3] * 10)[0])
            self.describe(f)
            self.firms.append(f)

    # -- SME texts ----------------------------------------------------------------------
    def capability(self, seg: Segment) -> list[str]:
        k = self.rng.randint(4, 8)
        core = self.pick(list(seg.terms), k)
        return [self.variant(t) for t in core]

    def customers(self, seg: Segment) -> list[str]:
        names = []
        for b in self.tx.customers_of(seg.id):
            s = self.tx.segments[b]
            names.append(self.pick([s.name, s.chain, f"{s.chain}{self.pick(['企业', '厂商', '行业'])}"] + list(s.aliases[:2])))
        names = list(dict.fromkeys(names)) or [f"{seg.chain}{self.pick(['企业', '行业'])}"]
        return self.pick(names, self.rng.randint(1, 3))

    def distractor(self, f: Firm) -> str:
        """A sentence that names a capability the firm does not have."""
        other = self.pick([s for s in self.leaves if s.id != f.segment.id and s.parent != f.segment.parent])
        t = self.pick(list(other.terms), 2)
        x, y = t[0], t[-1]
        f.decoy = other.id
        return self.pick([
            f"公司主要客户中包括多家{x}生产企业，为其提供配套服务。",
            f"公司目前自用{x}和{y}设备，不对外销售。",
            f"营业执照经营范围虽包含{x}相关业务，但公司目前尚未开展。",
            f"下一步公司计划关注{x}、{y}等新方向，目前处于调研阶段。",
            f"公司曾为本地{x}项目提供厂房租赁和物流仓储服务。",
            f"公司所在园区聚集了一批{x}企业，具备良好的产业配套环境。",
            f"公司代理销售国外品牌{x}，不具备自主研发能力。",
            f"与传统{x}厂商不同，公司不涉及{y}，专注于自身主业。",
            f"公司管理团队此前曾在{other.chain}行业从事{x}销售工作。",
            f"公司参与起草了{x}相关的团体标准宣贯工作。",
        ])

    def describe(self, f: Firm) -> None:
        seg = f.segment
        tx = self.tx
        chain = seg.chain
        cap = self.capability(seg)
        products, techs = cap[: max(2, len(cap) // 2 + 1)], cap[max(2, len(cap) // 2 + 1):] or cap[-1:]
        f.chains = [chain]
        for b in tx.customers_of(seg.id):
            other = tx.segments[b].chain
            if other not in f.chains and self.chance(0.12):
                f.chains.append(other)
        # 产业链环节 as firms write it: the segment's name, an alias, the broader parent, or nothing.
        r = self.rng.random()
        if r < 0.55:
            f.seg_labels = [seg.name]
        elif r < 0.8 and seg.aliases:
            f.seg_labels = [self.pick(list(seg.aliases))]
        elif r < 0.9 and seg.parent:
            f.seg_labels = [tx.segments[seg.parent].name]
        elif r < 0.95:
            f.seg_labels = [seg.stage + self.pick(["配套", "环节", ""]) if seg.stage != "中游" else "中游制造"]
        else:
            f.seg_labels = []
        style = self.rng.choices(["prose", "scope", "terse", "spec", "mixed"], weights=[35, 20, 15, 18, 12])[0]
        tier_phrase = self.tier_phrase(f)
        service = seg.stage == "下游" or seg.chain_id in ("ai", "industrial-internet")
        doing = self.pick(["服务", "业务", "解决方案"]) if service else self.pick(["研发与制造", "研发、生产和销售", "设计与生产"])
        place = f.district if f.district.endswith(("市", "区")) else f.district
        park = self.pick(PARKS.get(f.district, [""])) if f.district in PARKS else ""
        custs = self.customers(seg)
        parts: list[str] = []
        if style in ("prose", "mixed"):
            parts.append(self.pick([
                f"{f.name}成立于{f.year}年，位于{place}{park}，是一家专注于{products[0]}、{products[1]}{doing}的{tier_phrase}。",
                f"{f.short}创立于{f.year}年，深耕{self.pick(list(seg.aliases) or [seg.name])}领域，主要产品包括{'、'.join(products)}。",
                f"{products[0]}是{f.short}的起家产品，公司{f.year}年成立，此后陆续推出{'、'.join(products[1:]) or '系列产品'}。",
                f"作为{place}{seg.name}领域的{tier_phrase}，{f.short}致力于为客户提供{products[0]}整体解决方案。",
                f"{f.short}科技始创于{f.year}年，以{products[0]}为核心业务，逐步拓展到{'、'.join(products[1:]) or products[0]}。",
                f"{f.name}是集研发、生产、销售于一体的高新技术企业，核心产品为{'、'.join(products[:3])}。",
                f"{f.short}是一家年轻的科技型企业，团队来自{self.pick(UNIVERSITIES)}，聚焦{products[0]}和{self.pick(techs)}。",
                f"立足{place}，{f.short}用{datetime_years(f.year)}年时间把{products[0]}做成了细分领域的骨干产品。",
                f"{f.year}年，几位从事{seg.name}多年的工程师在{place}创办了{f.short}，从{products[0]}做起。",
            ]))
            parts.append(self.pick([
                f"公司掌握{'、'.join(techs)}等关键技术，拥有授权专利{self.rng.randint(8, 160)}项，其中发明专利{self.rng.randint(2, 40)}项。",
                f"依托{'、'.join(techs[:2])}技术，产品性能达到国内先进水平，部分指标实现进口替代。",
                f"公司建有{self.pick(['市级', '省级', '青岛市', '山东省'])}{self.pick(['企业技术中心', '工程研究中心', '专精特新企业研发中心', '重点实验室'])}，研发人员占比{self.rng.randint(18, 65)}%。",
                f"核心团队长期从事{self.pick(techs)}研究，与{self.pick(UNIVERSITIES)}共建联合实验室。",
            ]))
            parts.append(self.pick([
                f"产品广泛应用于{'、'.join(custs)}等领域，与多家龙头企业建立了长期配套关系。",
                f"客户覆盖{'、'.join(custs)}，产品远销东南亚、欧洲等{self.rng.randint(5, 40)}个国家和地区。",
                f"公司已通过{'、'.join(self.pick(CERTS[seg.chain_id], 2))}，年产值约{self.rng.randint(3, 90) / 10 if self.chance(0.4) else self.rng.randint(1, 30)}亿元。",
                f"公司秉持“{self.pick(['专注', '创新', '诚信', '匠心'])}、{self.pick(['品质', '共赢', '务实', '责任'])}”的理念，为{'、'.join(custs)}客户持续创造价值。",
                f"目前产品已进入{self.pick(['多家链主企业', '国内头部客户', '央企供应链', '海外知名品牌'])}供应体系，年出货量稳步增长。",
            ]))
        if style in ("scope", "mixed") or (style == "terse" and self.chance(0.3)):
            licensed = self.pick(["", "", f"许可项目：{self.pick(['道路货物运输（不含危险货物）', '货物进出口', '技术进出口', '检验检测服务', '第二类医疗器械生产'])}。"])
            if service:
                general = [f"{p}服务" if self.chance(0.6) else f"{p}技术开发" for p in products[:3]]
            else:
                general = [f"{p}制造" if self.chance(0.5) else f"{p}研发" for p in products[:3]]
                general += [f"{p}销售" for p in products[:2]]
            general += self.pick(["技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广", "软件开发", "机械设备租赁",
                                  "货物进出口", "信息系统集成服务", "工程和技术研究和试验发展", "专用设备修理", "新材料技术研发",
                                  "普通机械设备安装服务", "五金产品批发", "电子产品销售", "仪器仪表销售"], 3)
            self.rng.shuffle(general)
            scope = f"{licensed}一般项目：{'；'.join(general)}（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）"
            parts.append(scope if parts else self.pick([f"{f.name}经营范围：", f"经营范围（{f.short}）：", f"{f.short}｜"]) + scope)
        if style == "spec":
            figs = self.figures(seg, self.rng.randint(2, 4))
            parts.append(self.pick([
                f"主导产品{products[0]}，主要参数：{'，'.join(figs)}。",
                f"{products[0]}系列：{'；'.join(figs)}；可按客户要求定制。",
                f"【产品】{'、'.join(products)}【指标】{'，'.join(figs)}。",
            ]))
            if self.chance(0.6):
                parts.append(f"配套{'、'.join(custs)}，{self.pick(['月产能', '年产能'])}{self.rng.randint(1, 500)}万{self.pick(['件', '套', '台', '片', '米', '吨'])}。")
        if style == "terse":
            # a product line first, then the licence text if there is one
            parts.insert(0, self.pick([
                f"主营{'、'.join(products)}。",
                f"{'、'.join(products + techs)}。",
                (f"专业提供{products[0]}，兼营{'、'.join(products[1:]) or '相关服务'}。" if service
                 else f"专业生产{products[0]}，兼营{'、'.join(products[1:]) or '相关配件'}。"),
                f"{seg.name}：{'/'.join(products)}。",
                f"{f.short}｜{'｜'.join(products)}。",
            ]))
        if self.chance(0.25):
            # a quarter of the firms name something they do not make
            parts.insert(self.rng.randint(1, len(parts)) if len(parts) > 1 else len(parts), self.distractor(f))
        f.description = "".join(parts)
        # 主营产品 / 核心技术 columns, filled in different ways (sometimes not at all)
        r = self.rng.random()
        if r < 0.55:
            f.products = "、".join(products)
            f.technologies = "、".join(techs)
        elif r < 0.75:
            f.products = "；".join(products)
            f.technologies = ""
        elif r < 0.9:
            f.products = f"{products[0]}等" if self.chance(0.5) else " ".join(products)
            f.technologies = "，".join(techs) + self.pick(["技术", "工艺", "", "等核心技术"])
        else:
            f.products, f.technologies = "", ""

    def tier_phrase(self, f: Firm) -> str:
        if TIER_CX in f.tiers:
            return self.pick(["国家级专精特新“小巨人”企业", "专精特新“小巨人”企业", "国家级“小巨人”企业"])
        if "专精特新中小企业" in f.tiers:
            return self.pick(["山东省专精特新中小企业", "省级专精特新企业", "专精特新中小企业"])
        if "瞪羚企业" in f.tiers:
            return "瞪羚企业"
        if "创新型中小企业" in f.tiers:
            return self.pick(["创新型中小企业", "高新技术企业", "科技型中小企业"])
        return self.pick(["民营科技企业", "制造企业"])

    # -- demands ------------------------------------------------------------------------
    def targets(self, leader: Firm) -> list[Segment]:
        own = leader.own
        ids: list[str] = []
        for s in own:
            ids += [a for a in self.tx.suppliers_of(s) if a not in ids]
            for kid in self.tx.children(s):
                ids += [a for a in self.tx.suppliers_of(kid.id) if a not in ids]
        ids += [s.id for s in self.leaves_by_chain[leader.chain_id]
                if s.stage == "上游" and s.id not in ids and s.id not in own]
        return [self.tx.segments[i] for i in ids if not self.tx.children(i)]

    SCENARIOS = ["ai/ai-industry", "smart-equipment/vision-inspection", "smart-equipment/intralogistics",
                 "industrial-internet/production-control", "industrial-internet/iiot-platform", "humanoid/robot-application",
                 "eco/energy-saving", "hydrogen-storage/storage-application", "smart-equipment/equipment-service",
                 "ai/nlp-llm", "industrial-internet/industrial-security", "eco/water-treatment", "smart-equipment/industrial-robot"]
    SITES = ["总装车间", "仓储物流中心", "{c}工厂", "智能制造示范工厂", "研发中心实验室", "{c}生产基地", "售后服务中心",
             "园区能源站", "污水处理站", "质检中心", "冷链仓库", "集团总部"]

    # yearly output as a leader would state it: unit, low, high (None: a service business)
    OUTPUT = {"home-appliance": ("万台", 50, 2000), "display": ("万台", 100, 2000), "ic": ("万片", 10, 60), "ai": None,
              "nev": ("万辆", 5, 40), "hydrogen-storage": ("台套", 50, 500), "smart-equipment": ("台", 500, 5000),
              "humanoid": ("台", 100, 2000), "biomed": ("万支", 100, 5000), "materials": ("万吨", 5, 120),
              "food": ("万吨", 10, 300), "instrument": ("台", 2000, 30000), "rail": ("辆", 200, 1500),
              "industrial-internet": None, "marine": ("艘", 3, 20), "eco": None}
    BASES = ["青岛", "西海岸", "胶州", "即墨", "城阳", "平度", "莱西", "崂山", "黄岛"]

    def make_demands(self) -> list[list[str]]:
        rows = []
        leaders = [f for f in self.firms if f.role == "链主企业"]
        n = 0
        for leader in leaders:
            targets = self.targets(leader)
            used: set[tuple[str, str]] = set()
            for _ in range(10):
                for _try in range(20):
                    style = self.rng.choices(["easy", "medium", "hard", "scenario"], weights=[32, 30, 24, 14])[0]
                    seg = self.tx.segments[self.pick(self.SCENARIOS)] if style == "scenario" else self.pick(targets)
                    if (seg.id, style) not in used and seg.id not in leader.own:
                        break
                used.add((seg.id, style))
                n += 1
                rows.append(self.demand(leader, seg, style, f"QD-{2026 if n <= 110 else 2027}-{n:04d}"))
        return rows

    def leader_product(self, leader: Firm) -> str:
        return self.pick(re.split(r"[、，]", leader.products))

    def opener(self, leader: Firm, prod: str) -> str:
        rng = self.rng
        base = self.pick(self.BASES)
        out = self.OUTPUT[leader.chain_id]
        scale = (f"{leader.short}{prod}年产量约{rng.randint(out[1], out[2])}{out[0]}。" if out else
                 f"{leader.short}{prod}业务已服务客户{rng.randint(30, 3000)}家。")
        line = (f"{leader.short}{base}基地共有{prod}产线{rng.randint(2, 24)}条。" if out else
                f"{leader.short}{prod}在{base}有{rng.randint(2, 40)}个在运项目。")
        return self.pick([
            scale,
            f"{base}是{leader.short}{prod}的主要基地之一。",
            f"今年以来，{prod}订单明显增加，{leader.short}正在扩充配套体系。",
            f"{prod}的国产化、本地化配套是{leader.short}今年的重点工作。",
            f"从{self.pick(['去年', '2025年', '今年初'])}开始，{leader.short}在{prod}上推进{self.pick(['降本', '提质', '扩产', '新品导入', '出海'])}。",
            f"{prod}是{leader.short}的主力产品之一，市场占有率约{rng.randint(8, 35)}%。",
            f"随着{self.pick(['产能扩张', '产品升级换代', '出口订单增长', '新基地投产', '成本压力加大', '国产化要求提高'])}，{leader.short}{prod}业务对配套提出了新的要求。",
            f"近{rng.randint(2, 5)}年来，{leader.short}{prod}业务年均增长{rng.randint(8, 40)}%。",
            line,
            f"{self.pick(['2026年', '2027年', '明年', '今年下半年'])}{leader.short}计划{self.pick(['新建', '改造', '扩建'])}{base}{prod}{self.pick(['产线', '车间', '项目'])}。",
            f"针对{prod}{self.pick(['新品开发', '降本增效', '质量提升', '供应链安全', '出口认证'])}的需要，{leader.short}梳理出以下需求。",
            f"{leader.short}{prod}目前配套本地化率约{rng.randint(30, 75)}%，仍有部分环节依赖外地或进口。",
            f"在{base}{prod}项目中，",
            "",
        ])

    def demand(self, leader: Firm, seg: Segment, style: str, demand_id: str) -> list[str]:
        rng = self.rng
        terms = self.pick(list(seg.terms), 4)
        prod = self.leader_product(leader)
        opener = self.opener(leader, prod)
        who = self.pick(["我们", "集团", "公司", leader.short, "项目组", "研发中心"]) if not opener.endswith("，") else ""
        coop_pool = {"easy": ["产品采购", "联合研发", "技术转让", "委托开发", "国产化替代"],
                     "medium": ["联合研发", "委托开发", "产品采购", "技术许可", "共建实验室"],
                     "hard": ["技术攻关", "联合研发", "委托开发", "揭榜挂帅"],
                     "scenario": ["场景开放", "联合研发", "试点示范", "产品采购"]}[style]
        coop = self.pick(coop_pool, rng.randint(1, 2))
        months = rng.randint(3, 18)
        if style == "easy":
            a, b, c = terms[0], terms[1], terms[2]
            title = self.pick([f"{a}研发合作", f"{a}国产化配套", f"{a}供应商征集", f"高可靠{a}开发", f"{a}及{b}联合开发",
                               f"{prod}用{a}配套", f"{a}技术升级", f"{a}本地化供应"])
            body = self.pick([
                f"{who}现面向社会征集{a}方面的合作伙伴，重点是{b}与{c}。",
                f"{who}计划引入{a}供应商，要求具备{b}批量供货能力。",
                f"{who}需要开发新一代{a}，并同步解决{b}的工艺问题。",
                f"{who}拟采购{a}和{b}，年需求量约{rng.randint(1, 200)}万{self.pick(['件', '套', '片', '台', '米'])}。",
                f"{a}目前由{rng.randint(2, 4)}家外地供应商供货，{who}希望在青岛培育本地配套，兼顾{b}。",
            ])
        elif style == "medium":
            # write the other name of each term when there is one, the abbreviation more often than not
            with_syn = [t for t in seg.terms if t in self.syn]
            if len(with_syn) >= 2:
                chosen = self.pick(with_syn, 2)
                terms = chosen + [t for t in terms if t not in chosen][:2]
            alts = []
            for t in terms:
                v = self.syn.get(t) or []
                abbr = [x for x in v if re.fullmatch(r"[A-Za-z0-9\-+ ]{2,}", x)]
                alts.append(self.pick(abbr) if abbr and self.chance(0.6) else self.pick(v) if v else t)
            a, b = alts[0], alts[1]
            title = self.pick([f"{a}方案征集", f"面向{prod}的{a}", f"{a}能力提升", f"新一代{a}合作开发", f"{a}国产替代",
                               f"{a}与{b}技术合作"])
            body = self.pick([
                f"{who}希望寻找在{a}方面有成熟方案的团队，能够配合完成{b}的适配。",
                f"现有{a}依赖进口，交期和价格压力较大，{who}需要国内伙伴提供{b}替代方案。",
                f"{who}需要在{a}上取得突破，兼顾{b}和{alts[2]}。",
                f"{who}拟就{a}开展联合攻关，同时评估{b}的可行性。",
                f"{a}是{prod}的关键环节，{who}希望与掌握{b}的企业长期合作。",
            ])
        elif style == "hard":
            # a problem demand names a symptom, not a purchasing worry (依赖进口, 成本高)
            symptoms = [p for p in seg.problems if not re.search(r"进口|国产|卡脖子|成本|贵|垄断|断供|缺货|交期|认证|授权", p)]
            probs = self.pick(symptoms, 2) if len(symptoms) >= 2 else ["质量不稳定", "一致性差"]
            title = self.pick([f"{probs[0]}问题攻关", f"解决{probs[0]}难题", f"{probs[0]}、{probs[1]}改善",
                               f"{prod}相关{probs[0]}问题求解", f"生产中{probs[0]}问题", f"关于{probs[0]}的技术攻关",
                               f"{probs[0]}原因分析与改进", f"降低{probs[1]}的技术方案"])
            body = self.pick([
                f"售后和产线数据显示，{probs[0]}、{probs[1]}问题较为集中，相关投诉占比约{rng.randint(5, 40)}%。",
                f"用户反映{probs[0]}，部分批次还出现{probs[1]}，目前只能靠加严检验和返工应对。",
                f"现场经常出现{probs[0]}的情况，{probs[1]}也时有发生，影响交付和口碑。",
                f"{who}尝试过多种办法，{probs[0]}仍未根本解决，还带来了{probs[1]}。",
                f"{self.pick(['华北', '南方', '海外', '北方冬季', '沿海高湿'])}市场反馈{probs[0]}比较突出，同时有{probs[1]}的投诉。",
            ]) + self.pick(["希望从源头上找到解决办法。", "希望合作方帮助分析原因并给出改进方案。", "不希望靠增加人工和检验来解决。",
                            "希望在不大改现有结构的前提下解决。", "欢迎提出不同的技术路线。"])
        else:
            site = self.pick(self.SITES).format(c=self.pick(self.BASES))
            a = self.pick([seg.name] + list(seg.aliases[:2]))
            title = self.pick([f"{site}{a}应用场景开放", f"{a}示范应用场景", f"{site}{a}试点", f"开放{site}用于{a}验证",
                               f"{leader.short}{site}{a}场景"])
            body = self.pick([
                f"{leader.short}开放{site}作为{a}应用场景，现场有{rng.randint(5, 300)}台套设备、{rng.randint(50, 2000)}名员工。",
                f"{site}目前仍以人工为主，计划引入{a}，提供真实工况和数据用于验证。",
                f"拟在{site}建设{a}示范项目，由{leader.short}提供场地和数据，合作方提供方案和实施。",
                f"{site}每天{self.pick(['处理', '产生', '流转'])}{rng.randint(2, 80)}万条数据和大量现场作业，适合开展{a}试点。",
            ]) + self.pick([f"重点关注{self.pick(list(seg.problems) or ['效率'])}问题。", "希望三个月内完成试点。", "验证通过后在集团内推广。", ""])
        closing = self.pick([
            f"优先考虑青岛本地专精特新企业，项目周期约{months}个月。",
            f"合作方需能在{months}个月内提供样件并配合验证。",
            "要求合作方具备相关量产经验和质量体系。",
            f"项目经费约{rng.randint(50, 2000)}万元，可分阶段支付。",
            "欢迎高校院所与企业组成联合体参与。",
            f"验证通过后预计年采购额{rng.randint(200, 20000)}万元。",
            "需签署保密协议后提供详细技术资料。",
            "本需求列入集团融链固链建链对接清单。",
            "",
        ])
        description = opener + body + closing
        figs = self.figures(seg, rng.randint(2, 4))
        if style == "hard" and self.chance(0.5):
            figs.insert(0, f"问题发生率降低{rng.randint(30, 90)}%以上")
        specs = self.pick(["；", "，", "; "]).join(figs)
        if self.chance(0.2):
            specs += self.pick(["；单件成本不高于现用方案", "；满足相关国家标准", "；通过集团可靠性试验", "；交付周期≤30天"])
        chains = [leader.chains[0]]
        if seg.chain != chains[0] and self.chance(0.6):
            chains.append(seg.chain)
        kind = "场景需求" if style == "scenario" else "技术需求"
        y = 2026 if demand_id[3:7] == "2026" else 2027
        m = rng.randint(1, 12) if y == 2027 else 12
        deadline = f"{y}-{m:02d}-{self.pick([15, 20, 28, 31] if m == 12 else [15, 20, 28])}"
        if self.chance(0.15):
            yy, mm, dd = deadline.split("-")
            deadline = f"{yy}年{int(mm)}月{int(dd)}日"
        self.demand_targets.append((demand_id, leader, seg))
        return [demand_id, leader.name if self.chance(0.7) else leader.code, kind, title, description, specs,
                "；".join(chains), "；".join(coop), deadline]

    # -- relations ------------------------------------------------------------------------
    def make_relations(self) -> list[list[str]]:
        rng = self.rng
        smes = [f for f in self.firms if f.role == "中小企业"]
        leaders = [f for f in self.firms if f.role == "链主企业"]
        by_seg: dict[str, list[Firm]] = {}
        for f in smes:
            by_seg.setdefault(f.segment.id, []).append(f)
        rows: list[list[str]] = []
        seen: set[tuple[str, str, str]] = set()

        def add(a: Firm, b: Firm, kind: str, year: int | None):
            key = (a.code, b.code, kind)
            if a.code == b.code or key in seen:
                return
            seen.add(key)
            ref = lambda f: f.name if rng.random() < 0.8 else f.code  # noqa: E731
            rows.append([ref(a), ref(b), kind, "" if year is None else str(year)])

        year = lambda lo=2014: rng.randint(max(lo, 2012), 2026)  # noqa: E731
        for L in leaders:
            sup_segs = {s.id for s in self.targets(L)}
            pool = [f for f in smes if f.segment.id in sup_segs]
            for f in self.pick(pool, min(len(pool), rng.randint(60, 110))):
                add(f, L, "供应", year(f.year))
            for f in self.pick(pool, min(len(pool), rng.randint(10, 25))):
                add(L, f, "合作研发", year(2018))
            for f in self.pick(pool, rng.randint(3, 8)):
                add(L, f, "投资", year(2016))
            for f in self.pick(pool, rng.randint(0, 3)):
                add(L, f, "控股", year(2012))
        # SME -> SME along supply edges
        for a_id, b_id in self.tx.supply_edges:
            sa, sb = by_seg.get(a_id, []), by_seg.get(b_id, [])
            if not sa or not sb:
                continue
            for _ in range(rng.randint(1, 5)):
                add(self.pick(sa), self.pick(sb), "供应", year())
        for seg_id, group in by_seg.items():
            if len(group) < 2:
                continue
            for _ in range(rng.randint(1, 4)):
                a, b = self.pick(group, 2)
                add(a, b, "竞争", None if rng.random() < 0.5 else year(2020))
            for _ in range(rng.randint(0, 3)):
                a, b = self.pick(group, 2)
                add(a, b, "合作研发", year(2018))
        # what the events produced: intents and signed deals for posted demands
        for demand_id, L, seg in self.demand_targets:
            pool = by_seg.get(seg.id, [])
            for f in self.pick(pool, min(len(pool), rng.randint(1, 4))):
                add(f, L, "对接意向", self.pick([2025, 2026]))
            if pool and rng.random() < 0.4:
                add(self.pick(pool), L, "签约", 2026)
        return rows

    # -- all ------------------------------------------------------------------------------
    def run(self) -> tuple[list, list, list]:
        self.demand_targets = []
        self.make_leaders()
        self.make_smes()
        demands = self.make_demands()
        relations = self.make_relations()
        firms = [f.row() for f in self.firms]
        return firms, demands, relations


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def generate(out: Path = OUT, seed: int = SEED, n_smes: int = N_SMES, taxonomy: Taxonomy | None = None) -> dict[str, int]:
    """Write firms.csv, demands.csv and relations.csv to ``out``; return the row counts."""
    tx = taxonomy or load_taxonomy()
    firms, demands, relations = Gen(tx, seed, n_smes).run()
    out.mkdir(parents=True, exist_ok=True)
    for name, header, rows in (("firms.csv", FIRM_HEADER, firms), ("demands.csv", DEMAND_HEADER, demands),
                               ("relations.csv", RELATION_HEADER, relations)):
        (out / name).write_text(to_csv(header, rows), encoding="utf-8")
    return {"firms": len(firms), "demands": len(demands), "relations": len(relations)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="生成演示用的虚构青岛企业、需求与合作关系数据")
    ap.add_argument("--out", type=Path, default=OUT, help="输出目录（默认 datasets/qingdao）")
    ap.add_argument("--seed", type=int, default=SEED, help=f"随机种子（默认 {SEED}）")
    ap.add_argument("--smes", type=int, default=N_SMES, help=f"中小企业数量（默认 {N_SMES}）")
    args = ap.parse_args(argv)
    counts = generate(args.out, args.seed, args.smes)
    print(f"已生成 {args.out}：企业 {counts['firms']} 家，需求 {counts['demands']} 条，合作关系 {counts['relations']} 条")
    return 0


if __name__ == "__main__":
    sys.exit(main())
